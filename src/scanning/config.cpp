#include "scanning/config.h"

#include "iam/match.h"

namespace berth::scanning {
namespace {

using nlohmann::json;

Error invalid(std::string message) { return Error{ErrorCode::kInvalidParameter, std::move(message)}; }

std::optional<Frequency> frequency_from(std::string_view name) {
  if (name == "SCAN_ON_PUSH") return Frequency::kScanOnPush;
  if (name == "CONTINUOUS_SCAN") return Frequency::kContinuous;
  if (name == "MANUAL") return Frequency::kManual;
  return std::nullopt;
}

bool filter_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '*'; }
bool separator(char c) { return c == '.' || c == '_' || c == '-' || c == '/'; }

// The model's pattern ^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$: name characters and
// `*`, single separators between them, none at either end.
bool valid_filter(std::string_view f) {
  if (f.empty() || f.size() > 255 || !filter_char(f.front()) || !filter_char(f.back())) return false;
  for (size_t i = 0; i < f.size(); ++i) {
    if (filter_char(f[i])) continue;
    if (!separator(f[i]) || separator(f[i + 1])) return false;  // f.back() is not a separator
  }
  return true;
}

}  // namespace

std::string_view frequency_name(Frequency f) {
  switch (f) {
    case Frequency::kManual: return "MANUAL";
    case Frequency::kScanOnPush: return "SCAN_ON_PUSH";
    case Frequency::kContinuous: return "CONTINUOUS_SCAN";
  }
  return "MANUAL";
}

bool filter_matches(std::string_view filter, std::string_view repository) {
  return iam::wildcard_match(filter, repository, iam::Case::kSensitive);
}

namespace {

// The model's constraints only; parse_registry_config adds ECR's service-side rules.
Result<RegistryScanningConfig> parse_config(const json& input);

// ECR's service-side rules: the scan frequency each scan type refuses, and why.
struct RefusedFrequency {
  std::string_view scan_type;
  Frequency frequency;
  std::string_view why;
};
constexpr RefusedFrequency kRefusedFrequencies[] = {
    {"BASIC", Frequency::kContinuous,
     "CONTINUOUS_SCAN is not supported for scan type BASIC; continuous scanning needs scanType ENHANCED "
     "(BASIC supports SCAN_ON_PUSH and MANUAL)"},
    {"ENHANCED", Frequency::kManual,
     "MANUAL is not supported for scan type ENHANCED (ENHANCED supports CONTINUOUS_SCAN and SCAN_ON_PUSH; a "
     "repository no rule matches is scanned manually)"},
};

}  // namespace

Result<RegistryScanningConfig> parse_registry_config(const json& input) {
  BERTH_TRY(auto config, parse_config(input));
  for (const auto& refused : kRefusedFrequencies) {
    if (config.scan_type != refused.scan_type) continue;
    for (size_t i = 0; i < config.rules.size(); ++i) {
      if (config.rules[i].frequency != refused.frequency) continue;
      return tl::unexpected(invalid("Invalid parameter at 'rules[" + std::to_string(i) +
                                    "].scanFrequency': " + std::string(refused.why)));
    }
  }
  return config;
}

namespace {

Result<RegistryScanningConfig> parse_config(const json& input) {
  RegistryScanningConfig config{.configured = true};
  if (auto t = input.find("scanType"); t != input.end() && !t->is_null()) {
    if (!t->is_string() || (*t != "BASIC" && *t != "ENHANCED")) {
      return tl::unexpected(invalid("scanType must be BASIC or ENHANCED"));
    }
    config.scan_type = t->get<std::string>();
  }
  auto rules = input.find("rules");
  if (rules == input.end() || rules->is_null()) return config;
  if (!rules->is_array() || rules->size() > 2) return tl::unexpected(invalid("rules must be a list of at most 2 rules"));
  for (size_t i = 0; i < rules->size(); ++i) {
    const json& r = (*rules)[i];
    const std::string where = "rules[" + std::to_string(i) + "]";
    if (!r.is_object()) return tl::unexpected(invalid(where + " must be an object"));
    auto freq = r.find("scanFrequency");
    if (freq == r.end() || !freq->is_string()) return tl::unexpected(invalid(where + ".scanFrequency is required"));
    auto f = frequency_from(freq->get<std::string>());
    if (!f) {
      return tl::unexpected(invalid(where + ".scanFrequency must be SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL"));
    }
    ScanningRule rule{.frequency = *f, .filters = {}};
    auto filters = r.find("repositoryFilters");
    if (filters == r.end() || !filters->is_array() || filters->size() > 100) {
      return tl::unexpected(invalid(where + ".repositoryFilters is required: a list of at most 100 filters"));
    }
    for (const auto& flt : *filters) {
      if (!flt.is_object() || !flt.contains("filter") || !flt["filter"].is_string() ||
          flt.value("filterType", json()) != "WILDCARD") {
        return tl::unexpected(invalid(where + ".repositoryFilters entries need a filter and filterType WILDCARD"));
      }
      const auto text = flt["filter"].get<std::string>();
      if (!valid_filter(text)) {
        return tl::unexpected(invalid("Invalid parameter at '" + where + "' failed to satisfy constraint: filter '" +
                                      text + "' must match ^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$"));
      }
      rule.filters.push_back({text});
    }
    config.rules.push_back(std::move(rule));
  }
  return config;
}

}  // namespace

json to_json(const RegistryScanningConfig& config) {
  json rules = json::array();
  for (const auto& r : config.rules) {
    json filters = json::array();
    for (const auto& f : r.filters) filters.push_back({{"filter", f.filter}, {"filterType", "WILDCARD"}});
    rules.push_back({{"scanFrequency", std::string(frequency_name(r.frequency))}, {"repositoryFilters", filters}});
  }
  return json{{"scanType", config.scan_type}, {"rules", rules}};
}

RegistryScanningConfig registry_config_from_text(const std::optional<std::string>& text) {
  if (!text) return {};
  const json parsed = json::parse(*text, nullptr, false);
  auto config = parsed.is_object() ? parse_config(parsed) : Result<RegistryScanningConfig>();
  if (!parsed.is_object() || !config) return RegistryScanningConfig{.configured = true};
  return *config;
}

RepositoryScanning repository_scanning(std::string_view repository, std::string_view repository_settings_json,
                                       const RegistryScanningConfig& config) {
  RepositoryScanning out;
  const ScanningRule* decided = nullptr;
  for (const auto& rule : config.rules) {
    for (const auto& f : rule.filters) {
      if (!filter_matches(f.filter, repository)) continue;
      if (!decided || rule.frequency > decided->frequency) decided = &rule;
      break;
    }
  }
  if (decided) {
    out.frequency = decided->frequency;
    out.applied_filters = decided->filters;
  }
  if (config.configured) {
    out.scan_on_push = out.frequency != Frequency::kManual;
    return out;
  }
  const json settings = json::parse(repository_settings_json, nullptr, false);
  bool own_scan_on_push = false;
  if (settings.is_object()) {
    if (auto sc = settings.find("imageScanningConfiguration"); sc != settings.end() && sc->is_object()) {
      own_scan_on_push = sc->value("scanOnPush", false);
    }
  }
  if (own_scan_on_push) out.frequency = Frequency::kScanOnPush;
  out.scan_on_push = out.frequency != Frequency::kManual;
  return out;
}

}  // namespace berth::scanning
