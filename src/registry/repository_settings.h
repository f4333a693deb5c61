// A repository's settings: one JSON object stored whole with the repository (its ECR
// configuration: tags, tag mutability, scanning, lifecycle policy, pull gate, ...). Each
// feature owns its own keys, and every change goes through edit_repository_settings, so
// that two features changing their keys at once never lose either's change.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

// The settings as an object; an empty one when they are missing or not an object.
nlohmann::json settings_object(std::string_view settings_json);

// Reads the settings, lets `edit` change them and stores the result only if no other
// writer changed them meanwhile (MetaStore::update_repository_settings compares and
// sets); otherwise reads and edits again. An error from `edit` is returned and nothing is
// stored. kNameUnknown from the store.
using SettingsEdit = std::function<Result<void>(nlohmann::json& settings)>;
Result<void> edit_repository_settings(store::MetaStore& meta, const std::string& name, const SettingsEdit& edit);

}  // namespace berth::registry
