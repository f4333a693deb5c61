// The OCI Distribution v1.1 API on /v2/: protocol only. Each handler parses the request,
// makes one call into the registry services and shapes the answer. Reads run inline on
// the I/O thread (they are short SQLite reads); anything that writes or fsyncs runs on
// the worker pool.
#pragma once

#include <functional>
#include <optional>

#include "auth/authorizer.h"
#include "auth/identity.h"
#include "core/buffer_pool.h"
#include "http/asio.h"
#include "http/server.h"
#include "oci/route.h"
#include "observe/audit.h"
#include "registry/blob_service.h"
#include "registry/manifest_service.h"
#include "registry/repository_service.h"
#include "registry/upload_service.h"

namespace berth::oci {

struct Services {
  registry::RepositoryService& repositories;
  registry::BlobService& blobs;
  registry::UploadService& uploads;
  registry::ManifestService& manifests;
};

// Who may do what: HTTP Basic with user AWS and a GetAuthorizationToken token, then the
// route's ECR action on the repository (see README "Access control").
struct Access {
  const auth::Identity& identity;
  const auth::Authorizer& authorizer;
  const Clock& clock;                  // presigned URLs' expiry
  observe::AuditLog* audit = nullptr;  // null: nothing recorded
};

class Api {
 public:
  // Without `access` every request is allowed: only for tests of the protocol alone.
  Api(Services services, http::asio::thread_pool& pool, const Access* access = nullptr);

  // Answers any request whose path starts with /v2.
  http::awaitable<http::Response> handle(http::Exchange& ex);

 private:
  // `caller` is set once the request is authenticated.
  http::awaitable<http::Response> dispatch(http::Exchange& ex, const Route& route,
                                           std::optional<auth::Caller>& caller);
  void audit(const http::Request& req, const Route& route, const std::optional<auth::Caller>& caller,
             const http::Response& r) const;
  // `visible`: null lists every repository, else only those it accepts.
  http::Response catalog(const http::Request& req, const std::function<bool(const std::string&)>& visible);
  http::Response tags(const http::Request& req, const std::string& name);
  http::Response get_blob(const http::Request& req, const std::string& name, const std::string& digest);
  http::awaitable<http::Response> delete_blob(const std::string& name, const std::string& digest);
  // `may_mount`: false when the caller may not read the mount's source (then a mount
  // request becomes an ordinary upload).
  http::awaitable<http::Response> start_upload(http::Exchange& ex, const std::string& name, bool may_mount);
  http::Response upload_status(const std::string& name, const std::string& id);
  http::awaitable<http::Response> patch_upload(http::Exchange& ex, const std::string& name, const std::string& id);
  http::awaitable<http::Response> put_upload(http::Exchange& ex, const std::string& name, const std::string& id);
  http::awaitable<http::Response> delete_upload(const std::string& name, const std::string& id);
  // `puller`: whose pull it is, for pull-time exclusions and the pull gate.
  http::Response get_manifest(const http::Request& req, const std::string& name, const std::string& reference,
                              const registry::Puller& puller);
  http::awaitable<http::Response> put_manifest(http::Exchange& ex, const std::string& name,
                                               const std::string& reference);
  http::awaitable<http::Response> delete_manifest(const std::string& name, const std::string& reference);
  http::Response referrers(const http::Request& req, const std::string& name, const std::string& digest);

  // Streams the request body into the upload; records what arrived even if the client
  // went away, so the upload can be resumed from there. `slot` (Exchange::upload_slot)
  // pays for the buffers: released once the body is in, before the caller commits.
  http::awaitable<Result<store::UploadRecord>> receive(http::Exchange& ex, const std::string& name,
                                                       const std::string& id, std::optional<uint64_t> start,
                                                       http::Exchange::Permit slot);

  // The authenticated caller: nullopt for an anonymous request; kUnauthorized when
  // credentials were sent but are not valid.
  Result<std::optional<auth::Caller>> authenticate(const http::Request& req) const;
  Result<std::optional<auth::Caller>> presigned_caller(const http::Request& req) const;
  // {} when allowed; the 401 or 403 response otherwise. `version`: what the request reads
  // at (the caller's, or read once for an anonymous request).
  std::optional<http::Response> check(const http::Request& req, const std::optional<auth::Caller>& caller,
                                      const std::string& action, const std::string& repository,
                                      std::optional<uint64_t> version = std::nullopt) const;

  Services s_;
  http::asio::thread_pool& pool_;
  const Access* access_;
  BufferPool upload_buffers_;  // full-size receive buffers (see receive())
};

}  // namespace berth::oci
