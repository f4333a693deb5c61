// Streaming digests. Sha256 exposes its intermediate state as bytes so an upload can be
// resumed on any node (or after a restart) without re-reading what was already written.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/result.h"

namespace berth::crypto {

class Hasher {
 public:
  virtual ~Hasher() = default;
  virtual void update(std::string_view bytes) = 0;
  virtual Digest finish() = 0;  // the hasher must not be used afterwards
};

std::unique_ptr<Hasher> make_hasher(DigestAlgorithm algorithm);

// SHA-256 whose mid-stream state can be saved and restored.
class Sha256 final : public Hasher {
 public:
  Sha256();
  ~Sha256() override;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::string_view bytes) override;
  Digest finish() override;
  // The digest so far, without disturbing the state.
  Digest peek() const;

  std::string save_state() const;                           // opaque bytes
  static Result<std::unique_ptr<Sha256>> restore(std::string_view state);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

Digest sha256(std::string_view bytes);
Digest digest_of(DigestAlgorithm algorithm, std::string_view bytes);

}  // namespace berth::crypto
