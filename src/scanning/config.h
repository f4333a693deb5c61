// Scanning configuration as ECR has it: a repository's imageScanningConfiguration
// (scanOnPush, kept in the repository's settings) and the registry's scanning
// configuration (scanType and up to two rules, each a scan frequency with WILDCARD
// repository filters, kept in the settings table). Pure: parsing, validation and the
// decision which frequency applies to a repository.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace berth::scanning {

// The settings key the registry scanning configuration is stored under.
inline constexpr char kRegistryScanningSetting[] = "registry_scanning_configuration";

enum class Frequency { kManual, kScanOnPush, kContinuous };
std::string_view frequency_name(Frequency f);

struct RepositoryFilter {
  std::string filter;  // WILDCARD: `*` matches any run of characters
};

struct ScanningRule {
  Frequency frequency = Frequency::kScanOnPush;
  std::vector<RepositoryFilter> filters;
};

struct RegistryScanningConfig {
  std::string scan_type = "BASIC";  // BASIC or ENHANCED
  std::vector<ScanningRule> rules;
  // Whether PutRegistryScanningConfiguration was ever called: from then on its rules,
  // not the repositories' scanOnPush, decide (as ECR). Not part of the JSON shape.
  bool configured = false;
};

// PutRegistryScanningConfiguration's input (scanType, rules), validated against the
// ECR model's constraints and ECR's rule that CONTINUOUS_SCAN needs ENHANCED;
// kInvalidParameter naming what is wrong. The result is `configured`.
Result<RegistryScanningConfig> parse_registry_config(const nlohmann::json& input);
// The ECR RegistryScanningConfiguration shape (also the stored form).
nlohmann::json to_json(const RegistryScanningConfig& config);
// The stored form back; the default (BASIC, no rules, not configured) for nullopt.
// Stored text is read leniently (a BASIC configuration with CONTINUOUS_SCAN rules stored
// before that was refused still reads); text that cannot be read at all gives BASIC
// with no rules, still `configured`.
RegistryScanningConfig registry_config_from_text(const std::optional<std::string>& text);

// What applies to one repository. Once the registry configuration was put, the most
// frequent scanning any matching rule asks for (MANUAL when none matches), whatever
// the repository's own scanOnPush; before that, the repository's scanOnPush alone.
struct RepositoryScanning {
  bool scan_on_push = false;
  Frequency frequency = Frequency::kManual;
  std::vector<RepositoryFilter> applied_filters;  // the filters of the rule that decided
};
RepositoryScanning repository_scanning(std::string_view repository, std::string_view repository_settings_json,
                                       const RegistryScanningConfig& config);

// A WILDCARD repository filter against a repository name.
bool filter_matches(std::string_view filter, std::string_view repository);

}  // namespace berth::scanning
