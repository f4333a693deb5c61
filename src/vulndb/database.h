// The vulnerability database: imports advisory files into the MetaStore and serves the
// matcher built from what is stored (vuln::AdvisorySource) to the scan service.
//
// Sources. Every advisory row belongs to a source "<format>:<absolute import path>"
// (osv, debian, alpine). Importing the same PATH again is a full re-import of those
// sources: advisories they no longer contain are removed, but only when no file of the
// import was malformed (a file that did not parse may hold advisories that must not
// vanish because of a typo; the report says the removal was skipped). Importing another
// PATH never removes anything, so `import osv/npm` then `import osv/PyPI` adds up. The
// same advisory imported from two paths is stored twice and matched once (identical
// documents are de-duplicated when the matcher is built).
//
// Consistency. Advisories are written in batches, each one transaction; the data version
// moves with every batch that changed something, so a reader sees old or new advisories,
// never a half-written one, and a crashed import leaves a version that differs from the
// one before it if it changed anything. Identical re-imports write no advisory and leave
// the version alone (only the import history grows).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "store/meta/meta_store.h"
#include "vuln/snapshot.h"

namespace berth::vulndb {

struct FileProblem {
  std::string file;
  std::string reason;
};

struct SourceCount {
  std::string source;
  uint64_t advisories = 0;
};

struct ImportReport {
  std::string path;  // absolute
  uint64_t files_read = 0;
  std::vector<FileProblem> skipped;  // malformed: nothing imported from them
  std::vector<FileProblem> ignored;  // not an advisory format
  uint64_t added = 0;
  uint64_t changed = 0;
  uint64_t unchanged = 0;
  uint64_t removed = 0;
  bool pruned = false;                // whether advisories the sources no longer have were removed
  std::vector<SourceCount> sources;   // advisories each source holds after the import
  uint64_t version = 0;               // data version afterwards
};

struct ImportEvent {
  enum class Kind { kFileRead, kFileIgnored, kFileSkipped, kStored, kPruned };
  Kind kind;
  std::string file;    // kFile*
  std::string reason;  // kFileIgnored, kFileSkipped
  const ImportReport& so_far;
};
using ImportProgress = std::function<void(const ImportEvent&)>;

struct Status {
  uint64_t version = 0;
  std::vector<store::AdvisoryCount> counts;
  std::optional<store::VulnImportRecord> last_import;
};

class Database final : public vuln::AdvisorySource {
 public:
  struct Options {
    size_t batch = 500;                               // advisories per transaction
    size_t max_file_bytes = size_t{256} << 20;        // larger files are skipped
  };

  Database(store::MetaStore& store, const Clock& clock);
  Database(store::MetaStore& store, const Clock& clock, Options options);

  // Imports PATH (a file, a directory, or a .zip). Fails only when PATH cannot be read at
  // all or the store fails; bad files are in the report. An import that read no file
  // records nothing.
  Result<ImportReport> import(const std::string& path, const ImportProgress& progress = {});

  Result<Status> status();

  // Thread-safe. Rebuilds the matcher only when the stored version moved; callers that
  // arrive during a rebuild wait for it.
  Result<vuln::Snapshot> current() override;
  // The end of the import that produced `version` (the first recorded import whose
  // resulting version is at least it: versions only grow, and identical re-imports keep
  // the version). nullopt for "" or a version no recorded import reached yet.
  Result<std::optional<int64_t>> updated_at_ms(const std::string& version) override;

 private:
  Result<std::shared_ptr<const vuln::Matcher>> build_matcher();

  store::MetaStore& store_;
  const Clock& clock_;
  const Options options_;

  std::mutex snapshot_mu_;
  std::optional<uint64_t> snapshot_version_;
  std::shared_ptr<const vuln::Matcher> matcher_;
  std::map<uint64_t, int64_t> updated_at_;  // found once, never changes; under snapshot_mu_
};

// The Snapshot::version string of a data version ("" before any import changed data).
std::string version_string(uint64_t version);

}  // namespace berth::vulndb
