#include "app/wiring.h"

#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <filesystem>

#include "store/blob/fs/fs_blob_store.h"
#include "store/meta/sqlite/sqlite_meta_store.h"

namespace berth::app {

Result<std::unique_ptr<Registry>> Registry::open(const RegistryOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return fail(ErrorCode::kUnavailable, "cannot create data dir " + options.data_dir + ": " + ec.message());
  ::chmod(options.data_dir.c_str(), 0750);
  auto r = std::make_unique<Registry>();
  if (const char* offset = std::getenv("BERTH_TEST_CLOCK_OFFSET_MS")) {
    char* end = nullptr;
    const long long ms = std::strtoll(offset, &end, 10);
    if (end == offset || *end != '\0') return fail(ErrorCode::kInvalidParameter, "BERTH_TEST_CLOCK_OFFSET_MS must be an integer");
    r->clock.set_offset(std::chrono::milliseconds(ms));
  }
  BERTH_TRY(auto meta, store::SqliteMetaStore::open(options.data_dir + "/meta.db"));
  r->meta = std::move(meta);
  BERTH_TRY(auto blobs, store::FsBlobStore::open(options.data_dir));
  r->blobs = std::move(blobs);
  r->repositories = std::make_unique<registry::RepositoryService>(*r->meta, r->clock, options.create_on_push);
  r->pulls = std::make_unique<registry::PullRecorder>(*r->meta);
  r->blob_service = std::make_unique<registry::BlobService>(*r->meta, *r->blobs, r->clock);
  r->uploads = std::make_unique<registry::UploadService>(*r->meta, *r->blobs, *r->repositories, r->clock);
  r->manifests = std::make_unique<registry::ManifestService>(*r->meta, *r->repositories, *r->pulls, r->clock);
  r->vulndb = std::make_unique<vulndb::Database>(*r->meta, r->clock);
  r->pull_gate = std::make_unique<scanning::PullGateService>(*r->meta);
  r->manifests->set_pull_gate(r->pull_gate.get());
  auth::IdentityOptions identity{.data_dir = options.data_dir, .account_id = options.account_id,
                                 .root_access_key_id = {}, .root_secret_access_key = {}};
  if (const char* id = std::getenv("BERTH_ROOT_ACCESS_KEY_ID")) identity.root_access_key_id = id;
  if (const char* secret = std::getenv("BERTH_ROOT_SECRET_ACCESS_KEY")) identity.root_secret_access_key = secret;
  BERTH_TRY(r->identity, auth::Identity::open(identity, *r->meta, r->clock));
  BERTH_TRY(r->audit, observe::AuditLog::open(std::filesystem::path(options.data_dir) / "audit", r->clock));
  BERTH_TRY(r->events, observe::EventSink::open(std::filesystem::path(options.data_dir) / "events", r->clock));
  r->scans = std::make_unique<scanning::ScanService>(*r->meta, *r->blobs, *r->vulndb, r->clock, r->events.get(),
                                                     options.scan);
  return r;
}

}  // namespace berth::app
