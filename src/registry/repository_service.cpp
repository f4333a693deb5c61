#include "registry/repository_service.h"

#include "core/names.h"

namespace berth::registry {

Result<store::Repository> RepositoryService::create(const std::string& name, const std::string& settings_json) {
  BERTH_TRY_VOID(validate_repository_name(name));
  auto created = meta_.create_repository(name, clock_.now_ms(), settings_json);
  if (!created && created.error().code == ErrorCode::kRepositoryExists) {
    return fail(ErrorCode::kRepositoryExists, "The repository with name '" + name +
                                                  "' already exists in the registry");
  }
  return created;
}

Result<store::Repository> RepositoryService::get(const std::string& name) {
  BERTH_TRY_VOID(validate_repository_name(name));
  auto repo = meta_.get_repository(name);
  if (!repo && repo.error().code == ErrorCode::kNameUnknown) {
    return fail(ErrorCode::kNameUnknown, "repository \"" + name + "\" does not exist");
  }
  return repo;
}

Result<void> RepositoryService::edit_settings(const std::string& name, const SettingsEdit& edit) {
  BERTH_TRY_VOID(get(name));
  return edit_repository_settings(meta_, name, edit);
}

Result<void> RepositoryService::remove(const std::string& name, bool force) {
  BERTH_TRY_VOID(get(name));
  auto done = meta_.delete_repository(name, force);
  if (!done && done.error().code == ErrorCode::kRepositoryNotEmpty) {
    return fail(ErrorCode::kRepositoryNotEmpty, "repository \"" + name +
                                                    "\" still holds images; delete them first or use force");
  }
  return done;
}

Result<void> RepositoryService::require(const std::string& name) {
  BERTH_TRY_VOID(validate_repository_name(name));
  auto repo = meta_.get_repository(name);
  if (!repo) {
    if (repo.error().code == ErrorCode::kNameUnknown) {
      return fail(ErrorCode::kNameUnknown, "repository \"" + name + "\" does not exist");
    }
    return tl::unexpected(repo.error());
  }
  return {};
}

Result<void> RepositoryService::require_for_push(const std::string& name) {
  auto found = require(name);
  if (found || found.error().code != ErrorCode::kNameUnknown || !create_on_push_) {
    if (!found && found.error().code == ErrorCode::kNameUnknown) {
      return fail(ErrorCode::kNameUnknown,
                  "repository \"" + name + "\" does not exist; create it first (berth repo create, or "
                  "aws ecr create-repository)");
    }
    return found;
  }
  auto created = meta_.create_repository(name, clock_.now_ms());
  if (!created && created.error().code != ErrorCode::kRepositoryExists) return tl::unexpected(created.error());
  return {};  // created, or a concurrent push created it first
}

Result<std::vector<std::string>> RepositoryService::list(const std::string& after, size_t limit) {
  return meta_.list_repositories(after, limit);
}

}  // namespace berth::registry
