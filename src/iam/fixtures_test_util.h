// For the iam unit tests only: loads the JSON fixtures in tests/data/iam/ (found from this
// file's own path, so the tests run from any directory) and turns them into policies and
// request contexts.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "iam/evaluator.h"
#include "iam/policy.h"

namespace berth::iam::testing {

inline std::filesystem::path fixture_dir() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "data" / "iam";
}

inline nlohmann::json load_fixture(const std::string& name) {
  const auto path = fixture_dir() / name;
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "cannot open fixture " << path;
    return nlohmann::json::object();
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return nlohmann::json::parse(buffer.str());
}

inline PolicyKind kind_from(const nlohmann::json& j, PolicyKind fallback) {
  if (!j.is_string()) return fallback;
  return j == "resource" ? PolicyKind::kResource : PolicyKind::kIdentity;
}

// A fixture's context object; keys map to a string or an array of strings. When
// principal_account is left out it is taken from principal_arn.
inline RequestContext context_from(const nlohmann::json& j) {
  RequestContext c;
  c.action = j.value("action", "");
  c.resource = j.value("resource", "");
  c.principal_arn = j.value("principal_arn", "");
  c.principal_account = j.value("principal_account", "");
  c.anonymous = j.value("anonymous", false);
  if (c.principal_account.empty() && !c.principal_arn.empty()) {
    std::string rest = c.principal_arn;
    for (int i = 0; i < 4 && rest.find(':') != std::string::npos; ++i) rest = rest.substr(rest.find(':') + 1);
    c.principal_account = rest.substr(0, rest.find(':'));
  }
  if (const auto keys = j.find("keys"); keys != j.end()) {
    for (const auto& [k, v] : keys->items()) {
      auto& values = c.keys[k];
      if (v.is_array()) {
        for (const auto& item : v) values.push_back(item.get<std::string>());
      } else {
        values.push_back(v.get<std::string>());
      }
    }
  }
  return c;
}

inline Effect effect_from(const std::string& s) {
  if (s == "Allow") return Effect::kAllow;
  if (s == "ExplicitDeny" || s == "Deny") return Effect::kExplicitDeny;
  return Effect::kNotApplicable;
}

inline const char* to_cstr(Effect e) {
  switch (e) {
    case Effect::kAllow:
      return "Allow";
    case Effect::kExplicitDeny:
      return "ExplicitDeny";
    case Effect::kNotApplicable:
      return "NotApplicable";
  }
  return "?";
}

}  // namespace berth::iam::testing
