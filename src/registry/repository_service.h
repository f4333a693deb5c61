// Repositories as ECR has them: they exist before anything is pushed to them, unless
// the registry is configured to create them on first push.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "registry/repository_settings.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

class RepositoryService {
 public:
  RepositoryService(store::MetaStore& meta, const Clock& clock, bool create_on_push)
      : meta_(meta), clock_(clock), create_on_push_(create_on_push) {}

  Result<store::Repository> create(const std::string& name, const std::string& settings_json = "{}");
  Result<store::Repository> get(const std::string& name);  // NAME_INVALID, NAME_UNKNOWN
  // edit_repository_settings (registry/repository_settings.h). NAME_INVALID, NAME_UNKNOWN.
  Result<void> edit_settings(const std::string& name, const SettingsEdit& edit);
  // The repository policy text; validation is the caller's (iam::parse_policy).
  Result<std::optional<std::string>> policy(const std::string& name) { return meta_.get_repository_policy(name); }
  Result<void> set_policy(const std::string& name, const std::string& text) {
    return meta_.set_repository_policy(name, text);
  }
  Result<void> delete_policy(const std::string& name) { return meta_.delete_repository_policy(name); }
  // The registry policy (ECR Put/Get/DeleteRegistryPolicy); validation is the caller's.
  Result<std::optional<std::string>> registry_policy() { return meta_.get_setting(store::kRegistryPolicySetting); }
  Result<void> set_registry_policy(const std::string& text) { return meta_.put_setting(store::kRegistryPolicySetting, text); }
  Result<void> delete_registry_policy() { return meta_.delete_setting(store::kRegistryPolicySetting); }
  // Registry-wide account settings (ECR Get/PutAccountSetting).
  Result<std::optional<std::string>> account_setting(const std::string& name) {
    return meta_.get_setting("account_setting/" + name);
  }
  Result<void> put_account_setting(const std::string& name, const std::string& value) {
    return meta_.put_setting("account_setting/" + name, value);
  }
  // kRepositoryNotEmpty unless `force` or it holds no images.
  Result<void> remove(const std::string& name, bool force);
  Result<void> require(const std::string& name);               // NAME_INVALID, NAME_UNKNOWN
  // As require, but creates the repository when the registry creates on push.
  Result<void> require_for_push(const std::string& name);
  Result<std::vector<std::string>> list(const std::string& after, size_t limit);

 private:
  store::MetaStore& meta_;
  const Clock& clock_;
  bool create_on_push_;
};

}  // namespace berth::registry
