// ECR image scanning operations over the scan service (src/scanning): repository and
// registry scanning configuration, StartImageScan and DescribeImageScanFindings.
#include <algorithm>

#include "crypto/hash.h"
#include "crypto/seal.h"
#include "ecr/api.h"
#include "ecr/image_ids.h"
#include "ecr/input.h"
#include "scanning/findings.h"
#include "scanning/status.h"

namespace berth::ecr {
namespace {

double seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

Result<scanning::ScanService*> scanner(const Services& s) {
  if (!s.scans) return fail(ErrorCode::kUnsupported, "image scanning is not enabled on this server");
  return s.scans;
}

// One imageId (digest and/or tag) of the repository, or ImageNotFoundException in ECR's words.
Result<Digest> image_digest(const Services& s, const std::string& repo, const json& input) {
  auto id = input.find("imageId");
  if (id == input.end() || !id->is_object()) return tl::unexpected(invalid("imageId is required"));
  BERTH_TRY(auto digest, opt_string(*id, "imageDigest"));
  BERTH_TRY(auto tag, opt_string(*id, "imageTag"));
  Resolved r = resolve(s.manifests, repo, ImageId{*id, digest, tag});
  if (r.digest) return *r.digest;
  const std::string code = r.failure.value("failureCode", "");
  if (code == "ImageNotFound" || code == "ImageTagDoesNotMatchDigest") {
    return fail(ErrorCode::kManifestUnknown, "The image with imageId " + id->dump() +
                                                 " does not exist within the repository with name '" + repo +
                                                 "' in the registry with id '" + s.identity.account_id() + "'");
  }
  return tl::unexpected(invalid(r.failure.value("failureReason", "invalid imageId")));
}

json image_id_shape(const Digest& digest, const json& input) {
  json out = {{"imageDigest", digest.str()}};
  if (auto id = input.find("imageId"); id != input.end() && id->is_object() && id->contains("imageTag")) {
    out["imageTag"] = (*id)["imageTag"];
  }
  return out;
}

// With ENHANCED scanning ECR reports Amazon Inspector's statuses: a scan with findings
// is ACTIVE (kept up to date), one under way PENDING. BASIC keeps ECR's own.
std::string shown_status(const std::string& status, bool enhanced) {
  if (!enhanced) return status;
  if (status == scanning::kComplete) return "ACTIVE";
  if (status == scanning::kInProgress) return "PENDING";
  return status;
}

json status_shape(const store::ImageScan& scan, bool enhanced) {
  json out = {{"status", shown_status(scan.status, enhanced)}};
  if (!scan.description.empty()) out["description"] = scan.description;
  return out;
}

json basic_finding(const vuln::Finding& f) {
  json attributes = json::array({{{"key", "package_version"}, {"value", f.package_version}},
                                 {{"key", "package_name"}, {"value", f.package_name}}});
  json out = {{"name", f.id}, {"severity", std::string(vuln::severity_name(f.severity))}, {"attributes", attributes}};
  if (!f.description.empty()) out["description"] = f.description;
  if (!f.uri.empty()) out["uri"] = f.uri;
  return out;
}

// Amazon Inspector's packageManager for what berth's extractors read: OS packages are
// OS; npm packages NODEPKG when read from node_modules/*/package.json, NPM from a
// package-lock.json; Python's installed metadata PYTHONPKG; Go build info GOBINARY.
std::string package_manager(const vuln::Finding& f) {
  if (f.ecosystem == "dpkg" || f.ecosystem == "apk" || f.ecosystem == "rpm") return "OS";
  if (f.ecosystem == "npm") return f.file_path.ends_with("package-lock.json") ? "NPM" : "NODEPKG";
  if (f.ecosystem == "pypi") return "PYTHONPKG";
  if (f.ecosystem == "go") return "GOBINARY";
  return "";
}

json enhanced_finding(const vuln::Finding& f, const store::ImageScan& scan, const std::string& repo,
                      const std::string& account, const std::string& region) {
  const std::string key = crypto::sha256(repo + '\n' + scan.digest.str() + '\n' + scanning::finding_key(f)).hex();
  const double observed = seconds(scan.completed_at_ms.value_or(scan.started_at_ms));
  json package = {{"name", f.package_name}, {"version", f.package_version}};
  if (!f.fixed_versions.empty()) package["fixedInVersion"] = f.fixed_versions.front();
  if (auto manager = package_manager(f); !manager.empty()) package["packageManager"] = manager;
  // Inspector names the file of language packages; an OS package's is its package
  // database, which says nothing more.
  if (!f.file_path.empty() && package.value("packageManager", "") != "OS") package["filePath"] = f.file_path;
  if (!f.layer_digest.empty()) package["sourceLayerHash"] = f.layer_digest;
  json details = {{"vulnerabilityId", f.id}, {"source", "berth"}, {"vulnerablePackages", json::array({package})}};
  if (!f.uri.empty()) {
    details["sourceUrl"] = f.uri;
    details["referenceUrls"] = json::array({f.uri});
  }
  std::string recommendation = f.fixed_versions.empty()
                                   ? "No fixed version is known yet."
                                   : "Upgrade " + f.package_name + " to " + f.fixed_versions.front() + " or later.";
  json out = {
      {"awsAccountId", account},
      {"findingArn", "arn:aws:inspector2:" + region + ":" + account + ":finding/" + key.substr(0, 32)},
      {"firstObservedAt", f.first_observed_ms ? seconds(*f.first_observed_ms) : observed},
      {"lastObservedAt", observed},
      {"updatedAt", observed},
      {"packageVulnerabilityDetails", details},
      {"remediation", {{"recommendation", {{"text", recommendation}}}}},
      {"resources", json::array({{{"id", "arn:aws:ecr:" + region + ":" + account + ":repository/" + repo + "/" +
                                              scan.digest.str()},
                                  {"type", "AWS_ECR_CONTAINER_IMAGE"},
                                  {"details",
                                   {{"awsEcrContainerImage",
                                     {{"imageHash", scan.digest.str()}, {"repositoryName", repo}, {"registry", account}}}}}}})},
      {"severity", std::string(vuln::severity_name(f.severity))},
      {"status", "ACTIVE"},
      {"title", f.id + " - " + f.package_name},
      {"type", "PACKAGE_VULNERABILITY"},
      {"fixAvailable", f.fixed_versions.empty() ? "NO" : "YES"},
  };
  if (!f.description.empty()) out["description"] = f.description;
  return out;
}

}  // namespace

Result<ScanView> scan_view(const Services& s) {
  BERTH_TRY(auto scans, scanner(s));
  BERTH_TRY(auto config, scans->registry_config());
  return ScanView{.scans = scans, .enhanced = config.scan_type == "ENHANCED", .updated_at_ms = {}};
}

namespace {

// imageScanCompletedAt, vulnerabilitySourceUpdatedAt and findingSeverityCounts of a
// COMPLETE scan: what ImageScanFindings and ImageScanFindingsSummary share.
Result<json> completed_shape(const store::ImageScan& scan, ScanView& view) {
  json counts = json::parse(scan.severity_counts_json, nullptr, false);
  json out = {{"imageScanCompletedAt", seconds(scan.completed_at_ms.value_or(scan.started_at_ms))},
              {"findingSeverityCounts", counts.is_object() ? counts : json::object()}};
  auto known = view.updated_at_ms.find(scan.vulndb_version);
  if (known == view.updated_at_ms.end()) {
    BERTH_TRY(auto at, view.scans->data_updated_at_ms(scan.vulndb_version));
    known = view.updated_at_ms.emplace(scan.vulndb_version, at).first;
  }
  if (known->second) out["vulnerabilitySourceUpdatedAt"] = seconds(*known->second);
  return out;
}

}  // namespace

Result<json> scan_summary(const store::ImageScan& scan, ScanView& view) {
  json out = {{"imageScanStatus", status_shape(scan, view.enhanced)}};
  if (scan.status == scanning::kComplete) {
    BERTH_TRY(out["imageScanFindingsSummary"], completed_shape(scan, view));
  }
  return out;
}

Result<json> Api::put_image_scanning_configuration(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  auto conf = call.input.find("imageScanningConfiguration");
  if (conf == call.input.end() || !conf->is_object()) {
    return tl::unexpected(invalid("imageScanningConfiguration is required"));
  }
  bool scan_on_push = false;
  if (auto sop = conf->find("scanOnPush"); sop != conf->end() && !sop->is_null()) {
    if (!sop->is_boolean()) return tl::unexpected(invalid("scanOnPush must be a boolean"));
    scan_on_push = sop->get<bool>();
  }
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [&](json& settings) -> Result<void> {
    settings["imageScanningConfiguration"] = {{"scanOnPush", scan_on_push}};
    return {};
  }));
  return json{{"registryId", s_.identity.account_id()},
              {"repositoryName", name},
              {"imageScanningConfiguration", {{"scanOnPush", scan_on_push}}}};
}

Result<json> Api::put_registry_scanning_configuration(const Call& call) {
  BERTH_TRY(auto scans, scanner(s_));
  BERTH_TRY(auto config, scanning::parse_registry_config(call.input));
  BERTH_TRY_VOID(scans->put_registry_config(config));
  return json{{"registryScanningConfiguration", scanning::to_json(config)}};
}

Result<json> Api::get_registry_scanning_configuration(const Call&) {
  BERTH_TRY(auto scans, scanner(s_));
  BERTH_TRY(auto config, scans->registry_config());
  return json{{"registryId", s_.identity.account_id()}, {"scanningConfiguration", scanning::to_json(config)}};
}

Result<json> Api::batch_get_repository_scanning_configuration(const Call& call) {
  BERTH_TRY(auto scans, scanner(s_));
  auto names = call.input.find("repositoryNames");
  if (names == call.input.end() || !names->is_array() || names->empty() || names->size() > 25) {
    return tl::unexpected(invalid("repositoryNames must list 1 to 25 names"));
  }
  BERTH_TRY(auto config, scans->registry_config());
  json configurations = json::array();
  json failures = json::array();
  for (const auto& n : *names) {
    if (!n.is_string()) return tl::unexpected(invalid("repositoryNames must be strings"));
    const auto name = n.get<std::string>();
    auto repo = s_.repositories.get(name);
    if (!repo && (repo.error().code == ErrorCode::kNameUnknown || repo.error().code == ErrorCode::kNameInvalid)) {
      failures.push_back({{"repositoryName", name},
                          {"failureCode", "REPOSITORY_NOT_FOUND"},
                          {"failureReason", "The repository with name '" + name +
                                                "' does not exist in the registry with id '" +
                                                s_.identity.account_id() + "'"}});
      continue;
    }
    if (!repo) return tl::unexpected(repo.error());
    const auto applied = scanning::repository_scanning(name, repo->settings_json, config);
    json filters = json::array();
    for (const auto& f : applied.applied_filters) filters.push_back({{"filter", f.filter}, {"filterType", "WILDCARD"}});
    configurations.push_back({{"repositoryArn", s_.authorizer.repository_arn(name)},
                              {"repositoryName", name},
                              {"scanOnPush", applied.scan_on_push},
                              {"scanFrequency", std::string(scanning::frequency_name(applied.frequency))},
                              {"appliedScanFilters", filters}});
  }
  return json{{"scanningConfigurations", configurations}, {"failures", failures}};
}

Result<json> Api::start_image_scan(const Call& call) {
  BERTH_TRY(auto scans, scanner(s_));
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, repo));
  BERTH_TRY(auto digest, image_digest(s_, repo, call.input));
  auto scan = scans->start_manual_scan(repo, digest);
  if (!scan && scan.error().code == ErrorCode::kUnsupportedImageType) {
    return fail(ErrorCode::kUnsupportedImageType, "The image type is not supported for scanning: " +
                                                      scan.error().message);
  }
  if (!scan) return tl::unexpected(scan.error());
  BERTH_TRY(auto view, scan_view(s_));
  return json{{"registryId", s_.identity.account_id()},
              {"repositoryName", repo},
              {"imageId", image_id_shape(digest, call.input)},
              {"imageScanStatus", status_shape(*scan, view.enhanced)}};
}

Result<json> Api::describe_image_scan_findings(const Call& call) {
  BERTH_TRY(auto scans, scanner(s_));
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto repo, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto limit, max_results(call.input, 100, 1000));
  BERTH_TRY(auto token, page_after(call.input));
  size_t offset = 0;
  if (!token.empty()) {
    if (token.find_first_not_of("0123456789") != std::string::npos || token.size() > 9) {
      return tl::unexpected(invalid("nextToken is not one this registry issued"));
    }
    offset = std::stoul(token);
  }
  BERTH_TRY_VOID(require_repository(s_, repo));
  BERTH_TRY(auto digest, image_digest(s_, repo, call.input));
  BERTH_TRY(auto scan, scans->scan_of(repo, digest));
  if (!scan) {
    return fail(ErrorCode::kScanNotFound, "Image scan does not exist for the image with '" +
                                              image_id_shape(digest, call.input).dump() +
                                              "' in the repository with name '" + repo +
                                              "' in the registry with id '" + s_.identity.account_id() + "'");
  }
  BERTH_TRY(auto view, scan_view(s_));
  json out = {{"registryId", s_.identity.account_id()},
              {"repositoryName", repo},
              {"imageId", image_id_shape(digest, call.input)},
              {"imageScanStatus", status_shape(*scan, view.enhanced)}};
  // ECR leaves imageScanFindings out until the scan has findings to show.
  if (scan->status != scanning::kComplete) return out;
  const auto findings = scanning::findings_from_json(scan->findings_json);
  BERTH_TRY(json result, completed_shape(*scan, view));
  const size_t begin = std::min(offset, findings.size());
  const size_t end = std::min(findings.size(), begin + limit);
  json page = json::array();
  const bool enhanced = view.enhanced;
  for (size_t i = begin; i < end; ++i) {
    page.push_back(enhanced ? enhanced_finding(findings[i], *scan, repo, s_.identity.account_id(), s_.region)
                            : basic_finding(findings[i]));
  }
  result[enhanced ? "enhancedFindings" : "findings"] = page;
  out["imageScanFindings"] = result;
  if (end < findings.size()) out["nextToken"] = crypto::base64(std::to_string(end));
  return out;
}

}  // namespace berth::ecr
