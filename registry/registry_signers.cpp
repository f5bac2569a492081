// Registry: trusted signers and artifact signatures. Verification itself belongs to model
// protection; here they are stored, listed and audited.
#include <boost/json.hpp>

#include "registry/artifact_signature.h"
#include "registry/names.h"
#include "registry/registry.h"
#include "registry/registry_error.h"
#include "registry/sha256.h"

namespace mg::registry {
namespace {
using Code = RegistryError::Code;
}  // namespace

void Registry::add_signer(const std::string& name, const std::string& public_key_pem,
                          const std::string& actor) {
  validate_name("signer", name);
  try {
    public_key_fingerprint(public_key_pem);
  } catch (const RegistryError& e) {
    throw RegistryError(Code::kInvalidArgument, "signer '" + name + "': " + e.what());
  }
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  auto existing = db_->prepare("SELECT 1 FROM signers WHERE name = ?");
  existing.bind(1, name);
  if (existing.step()) {
    throw RegistryError(Code::kAlreadyExists, "signer '" + name + "' already exists");
  }
  db_->prepare("INSERT INTO signers (name, public_key, created_at) VALUES (?,?,?)")
      .bind(1, name)
      .bind(2, public_key_pem)
      .bind(3, now())
      .run();
  append_audit(actor, "signer.add", name, "{}");
  transaction.commit();
}

void Registry::remove_signer(const std::string& name, const std::string& actor) {
  validate_name("signer", name);
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  db_->prepare("DELETE FROM signers WHERE name = ?").bind(1, name).run();
  if (db_->changes() == 0) throw RegistryError(Code::kNotFound, "no signer '" + name + "'");
  append_audit(actor, "signer.remove", name, "{}");
  transaction.commit();
}

std::vector<SignerRecord> Registry::list_signers() const {
  std::lock_guard lock(write_mutex_);
  auto statement =
      db_->prepare("SELECT name, algorithm, public_key, created_at FROM signers ORDER BY name");
  std::vector<SignerRecord> signers;
  while (statement.step()) {
    signers.push_back(SignerRecord{statement.column_text(0), statement.column_text(1),
                                   statement.column_text(2), statement.column_int(3)});
  }
  return signers;
}

void Registry::add_signature(const std::string& artifact, const std::string& signer,
                             const std::string& signature, const std::string& actor) {
  if (!is_sha256_hex(artifact)) {
    throw RegistryError(Code::kInvalidArgument, "not a SHA-256 digest: '" + artifact + "'");
  }
  validate_name("signer", signer);
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  auto known = db_->prepare("SELECT 1 FROM artifacts WHERE digest = ?");
  known.bind(1, artifact);
  if (!known.step()) throw RegistryError(Code::kNotFound, "no artifact " + artifact);
  db_->prepare(
         "INSERT INTO signatures (artifact, signer, signature, created_at) VALUES (?,?,?,?) "
         "ON CONFLICT(artifact, signer) DO UPDATE SET signature = excluded.signature, "
         "created_at = excluded.created_at")
      .bind(1, artifact)
      .bind(2, signer)
      .bind_blob(3, std::as_bytes(std::span(signature.data(), signature.size())))
      .bind(4, now())
      .run();
  append_audit(actor, "signature.add", artifact,
               boost::json::serialize(boost::json::object{{"signer", signer}}));
  transaction.commit();
}

std::vector<SignatureRecord> Registry::list_signatures(const std::string& artifact) const {
  std::lock_guard lock(write_mutex_);
  auto statement = db_->prepare(
      "SELECT artifact, signer, signature, created_at FROM signatures WHERE artifact = ? "
      "ORDER BY signer");
  statement.bind(1, artifact);
  std::vector<SignatureRecord> signatures;
  while (statement.step()) {
    signatures.push_back(SignatureRecord{statement.column_text(0), statement.column_text(1),
                                         statement.column_blob(2), statement.column_int(3)});
  }
  return signatures;
}

std::optional<std::string> Registry::trusted_signer(const ArtifactSignature& signature) const {
  for (const auto& signer : list_signers()) {
    try {
      if (verify_signature(signature, signer.public_key_pem)) return signer.name;
    } catch (const RegistryError&) {
      // a signer added before keys were checked: it verifies nothing
    }
  }
  return std::nullopt;
}

std::optional<std::string> Registry::verified_signer(const std::string& digest) const {
  for (const auto& stored : list_signatures(digest)) {
    for (const auto& signer : list_signers()) {
      if (signer.name != stored.signer) continue;
      try {
        const ArtifactSignature signature{digest, public_key_fingerprint(signer.public_key_pem),
                                          stored.signature};
        if (verify_signature(signature, signer.public_key_pem)) return signer.name;
      } catch (const RegistryError&) {
      }
    }
  }
  return std::nullopt;
}

}  // namespace mg::registry
