#include "registry/repository_settings.h"

namespace berth::registry {

nlohmann::json settings_object(std::string_view settings_json) {
  auto s = nlohmann::json::parse(settings_json, nullptr, false);
  return s.is_object() ? s : nlohmann::json::object();
}

Result<void> edit_repository_settings(store::MetaStore& meta, const std::string& name, const SettingsEdit& edit) {
  // Each lost race means another edit landed, so a handful of tries only runs out under
  // a storm of writers on one repository; then the caller is told to retry.
  constexpr int kTries = 16;
  for (int i = 0; i < kTries; ++i) {
    BERTH_TRY(auto repo, meta.get_repository(name));
    auto settings = settings_object(repo.settings_json);
    BERTH_TRY_VOID(edit(settings));
    BERTH_TRY(bool stored, meta.update_repository_settings(name, repo.settings_json, settings.dump()));
    if (stored) return {};
  }
  return fail(ErrorCode::kTooManyRequests,
              "the settings of repository \"" + name + "\" are being changed by other requests; try again");
}

}  // namespace berth::registry
