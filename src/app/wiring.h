// The only code that names concrete stores: opens a data dir and builds the services.
#pragma once

#include <memory>
#include <string>

#include "auth/identity.h"
#include "core/clock.h"
#include "core/result.h"
#include "observe/audit.h"
#include "observe/events.h"
#include "observe/metrics.h"
#include "registry/blob_service.h"
#include "registry/manifest_service.h"
#include "registry/pull_recorder.h"
#include "registry/repository_service.h"
#include "registry/upload_service.h"
#include "scanning/pull_gate.h"
#include "scanning/service.h"
#include "store/blob/blob_store.h"
#include "store/meta/meta_store.h"
#include "vulndb/database.h"

namespace berth::app {

struct RegistryOptions {
  std::string data_dir = "./berth-data";
  bool create_on_push = false;
  std::string account_id;  // empty: the data dir's, or a new one
  scanning::Options scan;
};

// Owns the stores and the services over them, in dependency order.
struct Registry {
  OffsetClock clock;  // the system clock, unless a test moves it (BERTH_TEST_CLOCK_OFFSET_MS)
  std::unique_ptr<store::MetaStore> meta;
  std::unique_ptr<store::BlobStore> blobs;
  std::unique_ptr<registry::RepositoryService> repositories;
  std::unique_ptr<registry::PullRecorder> pulls;
  std::unique_ptr<registry::BlobService> blob_service;
  std::unique_ptr<registry::UploadService> uploads;
  std::unique_ptr<registry::ManifestService> manifests;
  std::unique_ptr<auth::Identity> identity;
  // The vulnerability database (a vuln::AdvisorySource for scans), over `meta`.
  std::unique_ptr<vulndb::Database> vulndb;
  // The vulnerability pull gate, asked by `manifests` before every client pull.
  std::unique_ptr<scanning::PullGateService> pull_gate;
  // DATA/audit and DATA/events; every process on the data dir appends to the same files.
  std::unique_ptr<observe::AuditLog> audit;
  std::unique_ptr<observe::EventSink> events;
  observe::Metrics metrics;
  // Image scanning, matched against `vulndb`. Declared last: destroyed first, so its
  // workers stop before the stores go. `berth serve` starts the workers and hooks the
  // scans onto pushes; other commands leave it idle.
  std::unique_ptr<scanning::ScanService> scans;

  static Result<std::unique_ptr<Registry>> open(const RegistryOptions& options);
};

}  // namespace berth::app
