// `berth admin ...`: principals, keys and policies managed directly in a data dir, also
// while the server runs (SQLite serializes the writers). Each verb prints its result as
// JSON on stdout; secrets appear there once and nowhere else (never in a log).
#pragma once

#include <string>
#include <vector>

namespace berth::app {

struct AdminOptions {
  std::string data_dir = "./berth-data";
  std::string name;           // user or role name (positional), or access key id for delete-access-key
  std::string user;           // --user
  std::string role;           // --role
  std::string account_id;     // --account-id
  std::string policy_file;    // --policy-file
  std::string trust_policy_file;  // --assume-role-policy-file
  std::string policy_name;    // --policy-name
  // Pull gate verbs.
  std::string repository;     // --repository ("" : the registry's gate)
  std::string severity;       // --severity
  bool block_unscanned = false;       // --block-unscanned
  std::vector<std::string> exempt;    // --exempt ARN ...
};

// Runs one verb ("create-user", "create-access-key", ...). Returns the process exit code:
// 0 on success; 1 with a message on stderr otherwise.
int admin(const std::string& verb, const AdminOptions& options);

}  // namespace berth::app
