#include "app/scan_cli.h"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "app/wiring.h"
#include "scanning/findings.h"

namespace berth::app {

int scan_image_command(const ScanCliOptions& options) {
  auto reg = Registry::open(RegistryOptions{.data_dir = options.data_dir});
  if (!reg) {
    std::fprintf(stderr, "berth: %s\n", reg.error().message.c_str());
    return 1;
  }
  Registry& r = **reg;
  auto ref = registry::Reference::parse(options.image);
  if (!ref) {
    std::fprintf(stderr, "berth: %s\n", ref.error().message.c_str());
    return 1;
  }
  auto manifest = r.manifests->get(options.repository, *ref, /*count_pull=*/false);
  if (!manifest) {
    std::fprintf(stderr, "berth: %s\n", manifest.error().message.c_str());
    return 1;
  }
  auto scan = r.scans->scan_now(options.repository, manifest->digest);
  if (!scan) {
    std::fprintf(stderr, "berth: %s\n", scan.error().message.c_str());
    return 1;
  }
  const auto findings = scanning::findings_from_json(scan->findings_json);
  if (options.json) {
    nlohmann::json out = {{"repositoryName", options.repository},
                          {"imageDigest", scan->digest.str()},
                          {"status", scan->status},
                          {"description", scan->description},
                          {"vulnerabilityDataVersion", scan->vulndb_version},
                          {"findingSeverityCounts", nlohmann::json::parse(scan->severity_counts_json)},
                          {"findings", nlohmann::json::parse(scan->findings_json)}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s@%s: %s\n  %s\n", options.repository.c_str(), scan->digest.str().c_str(), scan->status.c_str(),
              scan->description.c_str());
  for (const auto& f : findings) {
    std::printf("  %-13s %-24s %s %s\n", std::string(vuln::severity_name(f.severity)).c_str(), f.id.c_str(),
                f.package_name.c_str(), f.package_version.c_str());
  }
  return 0;
}

int rescan_command(const ScanCliOptions& options) {
  auto reg = Registry::open(RegistryOptions{.data_dir = options.data_dir});
  if (!reg) {
    std::fprintf(stderr, "berth: %s\n", reg.error().message.c_str());
    return 1;
  }
  auto report = (*reg)->scans->rescan_changed();
  if (!report) {
    std::fprintf(stderr, "berth: %s\n", report.error().message.c_str());
    return 1;
  }
  if (options.json) {
    nlohmann::json out = {{"vulnerabilityDataVersion", report->vulndb_version},
                          {"imagesRematched", report->images_rematched},
                          {"imagesWithNewFindings", report->images_with_new_findings},
                          {"layersRead", report->layers_read}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("vulnerability data %s: %zu images re-matched, %zu with new findings, %d layers read\n",
                report->vulndb_version.empty() ? "(none imported)" : report->vulndb_version.c_str(),
                report->images_rematched, report->images_with_new_findings, report->layers_read);
  }
  return 0;
}

}  // namespace berth::app
