// MetaStore on an embedded SQLite file (the one-machine default). Owns the schema and
// its migrations; knows nothing of blob bytes.
//
// Threading: WAL mode, so readers never wait for the writer. Reads borrow a read-only
// connection from a small pool (one per concurrently reading thread, kept warm with
// their prepared statements); writes take one write connection under a mutex and run
// in BEGIN IMMEDIATE transactions. Other processes (`berth repo create` while the
// server runs) take SQLite's file lock, and busy_timeout makes both sides wait for it.
//
// Durability: synchronous=FULL, so a push that was acknowledged survives a power cut.
// Only pull times and upload progress (record_pull, create_upload, advance_upload)
// commit with synchronous=NORMAL, on a second write connection: in WAL mode that may
// lose the newest of them on power loss, never corrupt the file, and the next FULL
// commit makes them durable too. A chunked push would otherwise wait for an fsync of
// the WAL (about 1 ms here) after every chunk.
#pragma once

#include <memory>
#include <atomic>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/meta/meta_store.h"

namespace spdlog {
class logger;
}

namespace berth::store {

namespace sqlite_detail {
class Connection;  // one sqlite3 handle and its cached prepared statements (in the .cpp)
class WalIndexWatch;
}

class SqliteMetaStore final : public MetaStore {
 public:
  // The schema version this build writes (PRAGMA user_version after open()).
  static constexpr int kSchemaVersion = 8;

  struct Options {
    // How long a write waits for another process's write (SQLite's file lock) before
    // failing with kUnavailable. Writers in this process queue on a mutex instead.
    int busy_timeout_ms = 5000;
    // data_version() from the mapped wal-index header (no transaction); false: through
    // a pooled reader's PRAGMA data_version, the fallback when the file cannot be mapped.
    bool watch_wal_index = true;
  };

  // Opens or creates the database file at `path` and brings its schema up to date.
  // kUnavailable when another process holds the file locked for too long, or when
  // the file was written by a newer berth; kInternal for anything else.
  [[nodiscard]] static Result<std::unique_ptr<SqliteMetaStore>> open(const std::string& path);
  [[nodiscard]] static Result<std::unique_ptr<SqliteMetaStore>> open(const std::string& path,
                                                                     const Options& options);

  // No call may be in flight when the store is destroyed.
  ~SqliteMetaStore() override;
  SqliteMetaStore(const SqliteMetaStore&) = delete;
  SqliteMetaStore& operator=(const SqliteMetaStore&) = delete;

  [[nodiscard]] Result<Repository> create_repository(const std::string& name, int64_t now_ms,
                                                     const std::string& settings_json = "{}") override;
  [[nodiscard]] Result<Repository> get_repository(const std::string& name) override;
  [[nodiscard]] Result<std::vector<std::string>> list_repositories(const std::string& after, size_t limit) override;
  [[nodiscard]] Result<void> delete_repository(const std::string& name, bool force) override;

  [[nodiscard]] Result<void> link_blob(const std::string& repository, const Digest& digest, uint64_t size,
                                       int64_t now_ms) override;
  [[nodiscard]] Result<uint64_t> linked_blob_size(const std::string& repository, const Digest& digest) override;
  [[nodiscard]] Result<uint64_t> any_blob_size(const Digest& digest) override;
  [[nodiscard]] Result<void> unlink_blob(const std::string& repository, const Digest& digest) override;

  [[nodiscard]] Result<PutManifestOutcome> put_manifest(const std::string& repository, const NewManifest& manifest,
                                                        int64_t now_ms) override;
  [[nodiscard]] Result<ManifestRecord> get_manifest(const std::string& repository, const Digest& digest) override;
  [[nodiscard]] Result<ManifestRecord> get_tagged_manifest(const std::string& repository,
                                                           const std::string& tag) override;
  [[nodiscard]] Result<std::vector<std::string>> list_tags(const std::string& repository, const std::string& after,
                                                           size_t limit) override;
  [[nodiscard]] Result<void> delete_manifest(const std::string& repository, const Digest& digest) override;
  [[nodiscard]] Result<void> delete_tag(const std::string& repository, const std::string& tag) override;
  [[nodiscard]] Result<std::vector<Referrer>> referrers(const std::string& repository, const Digest& subject,
                                                        const std::optional<std::string>& artifact_type) override;
  [[nodiscard]] Result<void> record_pull(const std::string& repository, const Digest& digest, int64_t now_ms) override;

  [[nodiscard]] Result<void> create_upload(const UploadRecord& upload) override;
  [[nodiscard]] Result<UploadRecord> get_upload(const std::string& id) override;
  [[nodiscard]] Result<void> advance_upload(const std::string& id, uint64_t expected_offset, uint64_t new_offset,
                                            const std::string& hash_state, int64_t now_ms) override;
  [[nodiscard]] Result<void> delete_upload(const std::string& id) override;
  [[nodiscard]] Result<std::vector<UploadRecord>> uploads_idle_since(int64_t before_ms) override;
  [[nodiscard]] Result<std::vector<ImageRecord>> list_images(const std::string& repository, const std::string& after,
                                                             size_t limit) override;
  [[nodiscard]] Result<void> create_access_key(const AccessKeyRecord& key) override;
  [[nodiscard]] Result<AccessKeyRecord> get_access_key(const std::string& id) override;
  [[nodiscard]] Result<void> delete_access_key(const std::string& id) override;
  [[nodiscard]] Result<std::vector<AccessKeyRecord>> list_access_keys(const std::string& principal_arn) override;
  [[nodiscard]] Result<std::vector<AccessKeyRecord>> list_access_keys_by_id(const std::string& id_prefix,
                                                                            const std::string& after,
                                                                            size_t limit) override;
  [[nodiscard]] Result<void> create_account(const std::string& account_id, int64_t now_ms) override;
  [[nodiscard]] Result<std::vector<std::string>> list_accounts() override;
  [[nodiscard]] Result<void> create_principal(const PrincipalRecord& principal) override;
  [[nodiscard]] Result<PrincipalRecord> get_principal(const std::string& arn) override;
  [[nodiscard]] Result<std::vector<PrincipalRecord>> list_principals(const std::string& account_id) override;
  [[nodiscard]] Result<void> delete_principal(const std::string& arn) override;
  [[nodiscard]] Result<void> put_principal_policy(const std::string& arn, const std::string& name,
                                                  const std::string& document) override;
  [[nodiscard]] Result<std::vector<PrincipalPolicyRecord>> list_principal_policies(const std::string& arn) override;
  [[nodiscard]] Result<void> set_repository_policy(const std::string& repository, const std::string& text) override;
  [[nodiscard]] Result<std::optional<std::string>> get_repository_policy(const std::string& repository) override;
  [[nodiscard]] Result<void> delete_repository_policy(const std::string& repository) override;
  [[nodiscard]] Result<std::string> setting_or_init(const std::string& key, const std::string& initial) override;
  [[nodiscard]] Result<std::optional<std::string>> get_setting(const std::string& key) override;
  [[nodiscard]] Result<void> put_setting(const std::string& key, const std::string& value) override;
  [[nodiscard]] Result<uint64_t> data_version() override;
  [[nodiscard]] Result<ImageRecord> get_image(const std::string& repository, const Digest& digest) override;
  [[nodiscard]] Result<void> delete_setting(const std::string& key) override;
  [[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> list_settings(const std::string& prefix,
                                                                                      const std::string& after,
                                                                                      size_t limit) override;
  [[nodiscard]] Result<std::optional<std::string>> get_layer_inventory(const Digest& layer,
                                                                       int parser_version) override;
  [[nodiscard]] Result<void> put_layer_inventory(const Digest& layer, int parser_version,
                                                 const std::string& inventory) override;
  [[nodiscard]] Result<bool> update_repository_settings(const std::string& name, const std::string& expected,
                                                        const std::string& desired) override;
  [[nodiscard]] Result<void> put_image_scan(const std::string& repository, const ImageScan& scan) override;
  [[nodiscard]] Result<std::optional<ImageScan>> get_image_scan(const std::string& repository,
                                                                const Digest& digest) override;
  [[nodiscard]] Result<std::vector<ImageScan>> list_image_scans(const std::string& repository,
                                                                const std::string& after, size_t limit) override;
  [[nodiscard]] Result<bool> claim_manual_scan(const std::string& repository, const Digest& digest, int64_t now_ms,
                                               int64_t not_before_ms) override;

  [[nodiscard]] Result<uint64_t> vulndb_version() override;
  [[nodiscard]] Result<AdvisoryUpsertOutcome> upsert_advisories(const std::vector<AdvisoryRecord>& batch) override;
  [[nodiscard]] Result<uint64_t> prune_advisories(const std::string& source,
                                                  const std::vector<std::string>& keep_ids) override;
  [[nodiscard]] Result<std::vector<AdvisoryRecord>> list_advisories(const std::string& after_source,
                                                                    const std::string& after_id,
                                                                    size_t limit) override;
  [[nodiscard]] Result<std::vector<AdvisoryCount>> advisory_counts() override;
  [[nodiscard]] Result<VulnImportRecord> record_vulndb_import(const VulnImportRecord& record) override;
  [[nodiscard]] Result<std::vector<VulnImportRecord>> vulndb_imports(size_t limit) override;

  [[nodiscard]] Result<std::vector<BlobLink>> stale_blob_links(int64_t linked_before_ms, size_t limit) override;
  [[nodiscard]] Result<std::vector<BlobLink>> drop_stale_blob_links(int64_t linked_before_ms, size_t limit) override;
  [[nodiscard]] Result<std::vector<BlobRow>> unreferenced_blobs(int64_t links_before_ms, const std::string& after,
                                                                size_t limit) override;
  [[nodiscard]] Result<std::vector<Digest>> unrecorded_blobs(const std::vector<Digest>& digests) override;
  [[nodiscard]] Result<std::vector<Digest>> begin_blob_deletions(const std::vector<Digest>& digests,
                                                                 int64_t now_ms) override;
  [[nodiscard]] Result<void> end_blob_deletions(const std::vector<Digest>& digests) override;
  [[nodiscard]] Result<std::vector<Digest>> pending_blob_deletions() override;
  [[nodiscard]] Result<bool> begin_blob_commit(const std::string& upload_id, const Digest& digest,
                                               int64_t now_ms) override;
  [[nodiscard]] Result<uint64_t> mount_blob(const std::string& repository, const Digest& digest,
                                            int64_t now_ms) override;
  [[nodiscard]] Result<StorageUsage> storage_usage() override;

 private:
  using Connection = sqlite_detail::Connection;
  class ReadLease;  // a pooled read connection, returned on destruction
  enum class Durability { kFull, kNormal };

  SqliteMetaStore(std::string path, const Options& options);

  // Run `body(Connection&)` -> Result<T> on a pooled reader, or in one write
  // transaction (committed only when body succeeds). Every exception becomes an Error.
  template <class Body>
  auto read(const char* what, Body&& body) -> decltype(body(std::declval<Connection&>()));
  template <class Body>
  auto write(const char* what, Body&& body, Durability durability = Durability::kFull)
      -> decltype(body(std::declval<Connection&>()));

  std::unique_ptr<Connection> acquire_reader();
  void release_reader(std::unique_ptr<Connection> connection) noexcept;

  const std::string path_;
  const Options options_;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex write_mu_;                    // guards both write connections
  std::unique_ptr<Connection> writer_;     // synchronous=FULL
  std::unique_ptr<Connection> relaxed_writer_;  // synchronous=NORMAL: pull times, upload progress

  // data_version() without a transaction, through watch_connection_'s mapping (declared
  // first: destroyed after the watch); null when the file's wal-index cannot be mapped
  // (then a pooled reader asks SQLite, and generation_ numbers the answers).
  std::unique_ptr<Connection> watch_connection_;
  std::unique_ptr<sqlite_detail::WalIndexWatch> wal_watch_;
  // data_version(): moved by whichever pooled reader first notices a commit.
  std::atomic<uint64_t> generation_{0};

  std::mutex pool_mu_;                     // held only to pop or push a connection
  std::vector<std::unique_ptr<Connection>> idle_readers_;
};

}  // namespace berth::store
