// The Amazon ECR JSON 1.1 API on `POST /` (X-Amz-Target:
// AmazonEC2ContainerRegistry_V20150921.<Operation>): SigV4 authentication, then one
// handler per operation. Protocol only: shapes in and out, rules in registry/.
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "auth/authorizer.h"
#include "auth/identity.h"
#include "auth/sigv4.h"
#include "expiry/expirer.h"
#include "http/asio.h"
#include "http/server.h"
#include "observe/audit.h"
#include "registry/blob_service.h"
#include "registry/manifest_service.h"
#include "registry/repository_service.h"
#include "registry/upload_service.h"
#include "scanning/service.h"

namespace berth::ecr {

struct Services {
  registry::RepositoryService& repositories;
  registry::ManifestService& manifests;
  registry::BlobService& blobs;
  registry::UploadService& uploads;
  auth::Identity& identity;
  const auth::Authorizer& authorizer;
  const Clock& clock;
  std::string region;
  observe::AuditLog* audit = nullptr;  // null: nothing recorded (protocol tests)
  expiry::Expirer* expirer = nullptr;  // lifecycle previews
  registry::PullRecorder* pulls = nullptr;  // pull-time update exclusions
  scanning::ScanService* scans = nullptr;   // image scanning; null: the scanning operations are unsupported
};

// How scans are shown in one answer: ENHANCED registries show Amazon Inspector's
// statuses and findings; vulnerabilitySourceUpdatedAt is looked up once per data version.
struct ScanView {
  scanning::ScanService* scans = nullptr;
  bool enhanced = false;
  std::map<std::string, std::optional<int64_t>> updated_at_ms;  // per vulndb version
};
Result<ScanView> scan_view(const Services& s);
// imageScanStatus and imageScanFindingsSummary of DescribeImages (scanning.cpp).
Result<nlohmann::json> scan_summary(const store::ImageScan& scan, ScanView& view);

// RepositoryNotFoundException in ECR's words, for operations on one repository.
Result<void> require_repository(const Services& s, const std::string& repo);

class Api {
 public:
  Api(Services services, http::asio::thread_pool& pool) : s_(std::move(services)), pool_(pool) {}

  // True for requests this API answers: POST / with an X-Amz-Target header.
  static bool handles(const http::Request& req);
  http::awaitable<http::Response> handle(http::Exchange& ex);

 private:
  struct Call {
    const http::Request& request;
    const auth::Caller& caller;
    const nlohmann::json& input;
  };
  // {} when the caller's policies allow the operation on what it names; AccessDenied otherwise.
  Result<void> authorize(const std::string& operation, const auth::Caller& caller, const nlohmann::json& input,
                         const http::Request& req);
  Result<nlohmann::json> dispatch(const std::string& operation, const Call& call);
  void audit(const std::string& operation, const http::Request& req, const auth::SignedRequest& signed_request,
             const std::optional<auth::Caller>& caller, const nlohmann::json& input, const Result<nlohmann::json>& result) const;
  Result<nlohmann::json> get_authorization_token(const Call& call);
  Result<nlohmann::json> create_repository(const Call& call);
  Result<nlohmann::json> describe_repositories(const Call& call);
  Result<nlohmann::json> delete_repository(const Call& call);
  // Images (images.cpp).
  Result<nlohmann::json> list_images(const Call& call);
  Result<nlohmann::json> describe_images(const Call& call);
  Result<nlohmann::json> batch_get_image(const Call& call);
  void audit_gate_refusal(const Call& call, const std::string& repo, const Digest& digest,
                          const std::string& message) const;
  Result<nlohmann::json> batch_delete_image(const Call& call);
  Result<nlohmann::json> batch_check_layer_availability(const Call& call);
  Result<nlohmann::json> put_image(const Call& call);
  // Layer uploads through the API (layers.cpp).
  Result<nlohmann::json> initiate_layer_upload(const Call& call);
  Result<nlohmann::json> upload_layer_part(const Call& call);
  Result<nlohmann::json> complete_layer_upload(const Call& call);
  Result<nlohmann::json> get_download_url_for_layer(const Call& call);
  // Repository and registry settings (settings.cpp).
  Result<nlohmann::json> put_image_tag_mutability(const Call& call);
  Result<nlohmann::json> tag_resource(const Call& call);
  Result<nlohmann::json> untag_resource(const Call& call);
  Result<nlohmann::json> list_tags_for_resource(const Call& call);
  Result<nlohmann::json> describe_registry(const Call& call);
  Result<nlohmann::json> get_account_setting(const Call& call);
  Result<nlohmann::json> put_account_setting(const Call& call);
  Result<nlohmann::json> set_repository_policy(const Call& call);
  Result<nlohmann::json> get_repository_policy(const Call& call);
  Result<nlohmann::json> delete_repository_policy(const Call& call);
  Result<nlohmann::json> put_registry_policy(const Call& call);
  Result<nlohmann::json> get_registry_policy(const Call& call);
  Result<nlohmann::json> delete_registry_policy(const Call& call);
  // Lifecycle policies, previews and pull-time update exclusions (lifecycle.cpp).
  Result<nlohmann::json> put_lifecycle_policy(const Call& call);
  Result<nlohmann::json> get_lifecycle_policy(const Call& call);
  Result<nlohmann::json> delete_lifecycle_policy(const Call& call);
  Result<nlohmann::json> start_lifecycle_policy_preview(const Call& call);
  Result<nlohmann::json> get_lifecycle_policy_preview(const Call& call);
  Result<nlohmann::json> register_pull_time_update_exclusion(const Call& call);
  Result<nlohmann::json> deregister_pull_time_update_exclusion(const Call& call);
  Result<nlohmann::json> list_pull_time_update_exclusions(const Call& call);

  // Image scanning (scanning.cpp).
  Result<nlohmann::json> put_image_scanning_configuration(const Call& call);
  Result<nlohmann::json> put_registry_scanning_configuration(const Call& call);
  Result<nlohmann::json> get_registry_scanning_configuration(const Call& call);
  Result<nlohmann::json> batch_get_repository_scanning_configuration(const Call& call);
  Result<nlohmann::json> start_image_scan(const Call& call);
  Result<nlohmann::json> describe_image_scan_findings(const Call& call);

  nlohmann::json repository_shape(const store::Repository& repo, const http::Request& req) const;
  std::string host_of(const http::Request& req) const;

  Services s_;
  http::asio::thread_pool& pool_;
};

}  // namespace berth::ecr
