// berth: a self-hosted container image registry that speaks OCI distribution and ECR.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "app/admin.h"
#include "app/gc_cli.h"
#include "app/lifecycle_cli.h"
#include "app/scan_cli.h"
#include "app/serve.h"
#include "app/vulndb_cli.h"
#include "app/wiring.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace berth;
  CLI::App cli{"berth: a self-hosted container image registry (OCI distribution + Amazon ECR API)"};
  cli.require_subcommand(1);
  cli.fallthrough();  // global options (--log-level) may follow the subcommand too
  std::string log_level = "info";
  cli.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  app::ServeOptions serve;
  auto* serve_cmd = cli.add_subcommand("serve", "Run the registry");
  // The README lists --log-level with serve's options; its help should too.
  serve_cmd->footer("Global option, before or after 'serve':\n  --log-level TEXT=info       trace|debug|info|warn|error|off");
  serve_cmd->add_option("--data-dir", serve.registry.data_dir, "Data directory")->capture_default_str();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0 picks a free one)")
      ->capture_default_str();
  serve_cmd->add_flag("--create-on-push", serve.registry.create_on_push,
                      "Create a repository on its first push instead of answering NAME_UNKNOWN");
  serve_cmd->add_option("--ready-file", serve.ready_file, "Write HOST:PORT to this file once ready");
  serve_cmd->add_option("--threads", serve.http.threads, "I/O threads (default, or 0: one per core)");
  serve_cmd->add_option("--header-timeout", serve.http.header_timeout,
                        "Seconds a client has to send a request head (and keep-alive idle)")
      ->capture_default_str();
  serve_cmd->add_option("--io-timeout", serve.http.io_timeout, "Seconds without progress on a body")
      ->capture_default_str();
  serve_cmd->add_option("--max-body-bytes", serve.http.max_body_bytes, "Largest request body (blob upload)")
      ->capture_default_str();
  serve_cmd->add_option("--max-connections", serve.http.max_connections,
                        "Client connections served at once; more wait until one closes (default: 10000, or half of "
                        "what the open-file limit leaves after files if that is less; a larger value is lowered to "
                        "what it leaves)")
      ->check(CLI::Range(size_t{1}, size_t{1} << 30));
  serve_cmd->add_option("--max-uploads", serve.http.max_uploads,
                        "Upload request bodies received at once (6 MiB of buffers each); more wait up to --io-timeout, "
                        "then get 429 TOOMANYREQUESTS")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1} << 20));
  serve_cmd->add_option("--upload-ttl-hours", serve.upload_ttl_hours,
                        "Cancel blob uploads left idle this many hours")
      ->capture_default_str()
      ->check(CLI::Range(1U, 8760U));
  serve_cmd->add_option("--gc-interval", serve.gc_interval,
                        "Run garbage collection this often in the background (e.g. 6h; 0 turns it off)")
      ->capture_default_str();
  serve_cmd->add_option("--gc-grace", serve.gc_grace,
                        "Keep blobs uploaded this recently though no manifest references them yet (e.g. 1h)")
      ->capture_default_str();
  serve_cmd->add_option("--lifecycle-interval", serve.lifecycle_interval,
                        "Apply repositories' lifecycle policies this often (e.g. 1h; 0 turns it off)")
      ->capture_default_str();
  serve_cmd->add_option("--scan-workers", serve.registry.scan.workers, "Image scans run at once")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{64}));
  serve_cmd->add_option("--scan-queue", serve.registry.scan.queue_limit,
                        "Image scans that may wait; beyond this a scan is not run (FAILED, with the reason)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{1000000}));
  serve_cmd->add_option("--rescan-interval", serve.rescan_interval,
                        "Check this often whether the vulnerability data changed and re-match CONTINUOUS_SCAN images "
                        "(0 turns it off)")
      ->capture_default_str();
  bool no_access_log = false;
  serve_cmd->add_flag("--no-access-log", no_access_log, "Do not log one line per request");
  std::string config_file;
  serve_cmd->add_option("--region", serve.region, "Region reported in ARNs")->capture_default_str();
  serve_cmd->add_option("--account-id", serve.registry.account_id,
                        "12-digit account id of the registry (default: generated once per data dir)");
  serve_cmd->add_option("--config", config_file, "Configuration file (reserved)");

  auto* repo_cmd = cli.add_subcommand("repo", "Manage repositories directly in a data dir");
  repo_cmd->require_subcommand(1);
  std::string repo_name;
  std::string repo_data_dir = "./berth-data";
  auto* repo_create = repo_cmd->add_subcommand("create", "Create a repository (works while the server runs)");
  repo_create->add_option("name", repo_name, "Repository name, e.g. team/app")->required();
  repo_create->add_option("--data-dir", repo_data_dir, "Data directory")->capture_default_str();

  app::GcCliOptions gc_options;
  auto* gc_cmd = cli.add_subcommand("gc", "Delete unreferenced blobs and abandoned uploads (safe while serving)");
  gc_cmd->add_option("--data-dir", gc_options.data_dir, "Data directory")->capture_default_str();
  gc_cmd->add_flag("--dry-run", gc_options.dry_run, "Report what would be deleted; delete nothing");
  gc_cmd->add_option("--grace", gc_options.grace,
                     "Keep blobs uploaded this recently though no manifest references them yet")
      ->capture_default_str();
  gc_cmd->add_option("--upload-ttl", gc_options.upload_ttl, "Cancel uploads idle this long")->capture_default_str();
  gc_cmd->add_flag("--json", gc_options.json, "Print the report as JSON");
  app::StorageCliOptions storage_options;
  auto* storage_cmd = cli.add_subcommand("storage", "Bytes stored per repository and for the whole registry");
  storage_cmd->add_option("--data-dir", storage_options.data_dir, "Data directory")->capture_default_str();
  storage_cmd->add_flag("--json", storage_options.json, "Print JSON");

  app::LifecycleCliOptions lifecycle_options;
  auto* lifecycle_cmd = cli.add_subcommand("lifecycle", "Apply repositories' lifecycle policies");
  lifecycle_cmd->require_subcommand(1);
  auto* lifecycle_run = lifecycle_cmd->add_subcommand(
      "run", "Expire the images repositories' lifecycle policies select now (safe while serving)");
  lifecycle_run->add_option("--data-dir", lifecycle_options.data_dir, "Data directory")->capture_default_str();
  lifecycle_run->add_option("--repository", lifecycle_options.repository,
                            "Only this repository (default: every repository with a policy)");
  lifecycle_run->add_flag("--dry-run", lifecycle_options.dry_run,
                          "Show every image's decision and the rule behind it; delete nothing");
  lifecycle_run->add_flag("--json", lifecycle_options.json, "Print the reports as JSON");
  lifecycle_run->add_option("--region", lifecycle_options.region, "Region for ARNs in the audit trail")
      ->capture_default_str();

  app::VulndbCliOptions vulndb_options;
  auto* vulndb_cmd = cli.add_subcommand("vulndb", "The vulnerability database scans match against");
  vulndb_cmd->require_subcommand(1);
  auto* vulndb_import = vulndb_cmd->add_subcommand(
      "import", "Import OSV JSON, Debian security tracker lists and Alpine secdb files (safe while serving)");
  vulndb_import->add_option("PATH", vulndb_options.path, "A file, a directory (recursively) or a .zip")->required();
  vulndb_import->add_option("--data-dir", vulndb_options.data_dir, "Data directory")->capture_default_str();
  vulndb_import->add_flag("--json", vulndb_options.json, "Print the summary as JSON");
  auto* vulndb_status = vulndb_cmd->add_subcommand("status", "Data version, advisories per source, last import");
  vulndb_status->add_option("--data-dir", vulndb_options.data_dir, "Data directory")->capture_default_str();
  vulndb_status->add_flag("--json", vulndb_options.json, "Print JSON");
  app::ScanCliOptions scan_options;
  auto* scan_cmd = cli.add_subcommand("scan", "Scan images for known vulnerabilities (safe while serving)");
  scan_cmd->require_subcommand(1);
  auto* scan_image = scan_cmd->add_subcommand("image", "Scan one image now and store its findings");
  scan_image->add_option("--data-dir", scan_options.data_dir, "Data directory")->capture_default_str();
  scan_image->add_option("--repository", scan_options.repository, "Repository")->required();
  scan_image->add_option("--image", scan_options.image, "Tag or digest")->required();
  scan_image->add_flag("--json", scan_options.json, "Print the scan as JSON");
  auto* scan_rescan = scan_cmd->add_subcommand(
      "rescan", "Re-match CONTINUOUS_SCAN images whose findings predate the current vulnerability data");
  scan_rescan->add_option("--data-dir", scan_options.data_dir, "Data directory")->capture_default_str();
  scan_rescan->add_flag("--json", scan_options.json, "Print the report as JSON");

  auto* admin_cmd = cli.add_subcommand("admin", "Manage users, roles, access keys, policies and accounts in a data dir");
  admin_cmd->require_subcommand(1);
  app::AdminOptions admin;
  auto verb = [&](const char* name, const char* help) {
    auto* c = admin_cmd->add_subcommand(name, help);
    c->add_option("--data-dir", admin.data_dir, "Data directory")->capture_default_str();
    c->add_option("--account-id", admin.account_id, "Account (default: the registry's own)");
    return c;
  };
  auto* create_user = verb("create-user", "Create an IAM user with an access key; prints the key once");
  create_user->add_option("name", admin.name, "User name")->required();
  create_user->add_option("--policy-file", admin.policy_file, "Inline identity policy (named \"default\")");
  auto* create_role = verb("create-role", "Create an IAM role");
  create_role->add_option("name", admin.name, "Role name")->required();
  create_role->add_option("--policy-file", admin.policy_file, "Inline identity policy (named \"default\")");
  create_role->add_option("--assume-role-policy-file", admin.trust_policy_file,
                          "Trust policy: who may assume the role (default: principals of its own account)");
  auto* create_key = verb("create-access-key", "Create an access key for a user or a role; prints it once");
  auto* key_user = create_key->add_option("--user", admin.user, "User name");
  auto* key_role = create_key->add_option("--role", admin.role, "Role name (its sessions act as the role)");
  key_user->excludes(key_role);
  create_key->callback([&] {
    if (admin.user.empty() && admin.role.empty()) throw CLI::RequiredError("--user or --role");
  });
  auto* delete_key = verb("delete-access-key", "Delete an access key (its login tokens stop working)");
  delete_key->add_option("access_key_id", admin.name, "Access key id")->required();
  auto* put_policy = verb("put-user-policy", "Create or replace a user's inline policy");
  put_policy->add_option("--user", admin.user, "User name")->required();
  put_policy->add_option("--policy-name", admin.policy_name, "Policy name")->required();
  put_policy->add_option("--policy-file", admin.policy_file, "Policy document (JSON)")->required();
  verb("create-account", "Create another account with its own root key; prints the key once");
  verb("list-users", "List the users of an account");
  auto* list_keys = verb("list-access-keys", "List a user's access key ids");
  list_keys->add_option("--user", admin.user, "User name")->required();
  auto* delete_user = verb("delete-user", "Delete a user with its access keys and policies");
  delete_user->add_option("name", admin.name, "User name")->required();
  auto* delete_role = verb("delete-role",
                           "Delete a role with its access keys and policies (its sessions lose the role's policies)");
  delete_role->add_option("name", admin.name, "Role name")->required();

  auto* set_repo_policy = verb("set-repository-policy", "Set a repository's policy (e.g. public pull)");
  set_repo_policy->add_option("repository", admin.name, "Repository name")->required();
  set_repo_policy->add_option("--policy-file", admin.policy_file, "Repository policy (JSON)")->required();

  auto* set_gate = verb("set-pull-gate",
                        "Refuse pulls of images with findings at or above a severity (registry-wide, or one repository)");
  set_gate->add_option("--repository", admin.repository, "Repository (default: the whole registry)");
  set_gate->add_option("--severity", admin.severity,
                      "CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, ANY (any finding, UNDEFINED included) or NONE")
      ->required();
  set_gate->add_flag("--block-unscanned", admin.block_unscanned,
                     "Also refuse images without a completed scan (never scanned, queued, FAILED)");
  set_gate->add_option("--exempt", admin.exempt, "IAM user or role ARNs that may always pull")->expected(1, -1);
  auto* get_gate = verb("get-pull-gate", "Show the pull gate (registry-wide, or one repository's own)");
  get_gate->add_option("--repository", admin.repository, "Repository (default: the whole registry)");
  auto* clear_gate = verb("clear-pull-gate", "Remove the pull gate (registry-wide, or one repository's own)");
  clear_gate->add_option("--repository", admin.repository, "Repository (default: the whole registry)");

  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); berth's errors all exit 1, whatever
    // CLI11's own code for the kind of mistake (106 for a missing option, ...).
    return cli.exit(e) == 0 ? 0 : 1;
  }
  log::set_level(log_level);

  if (*serve_cmd) {
    serve.http.access_log = !no_access_log;
    return app::serve(serve);
  }
  if (*gc_cmd) return app::gc_command(gc_options);
  if (*lifecycle_cmd) return app::lifecycle_command(lifecycle_options);
  if (*scan_image) return app::scan_image_command(scan_options);
  if (*scan_rescan) return app::rescan_command(scan_options);
  if (*storage_cmd) return app::storage_command(storage_options);
  if (*vulndb_import) return app::vulndb_import_command(vulndb_options);
  if (*vulndb_status) return app::vulndb_status_command(vulndb_options);
  if (*admin_cmd) {
    for (auto* sub : admin_cmd->get_subcommands()) return app::admin(sub->get_name(), admin);
    return 1;
  }
  if (*repo_create) {
    app::RegistryOptions options;
    options.data_dir = repo_data_dir;
    auto reg = app::Registry::open(options);
    if (!reg) {
      std::fprintf(stderr, "berth: %s\n", reg.error().message.c_str());
      return 1;
    }
    auto created = (*reg)->repositories->create(repo_name);
    if (!created) {
      std::fprintf(stderr, "berth: %s\n", created.error().message.c_str());
      return created.error().code == ErrorCode::kRepositoryExists ? 3 : 1;
    }
    std::printf("created repository %s\n", repo_name.c_str());
    return 0;
  }
  return 0;
}
