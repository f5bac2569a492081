#pragma once

#include <filesystem>
#include <string>

#include "registry/registry.h"

namespace mg::gateway {

// The data directory and its secrets: where every file lives, the master key (created,
// read, rotated), the first admin key's file, and the durability rules for all of them
// (temp file, fsync, rename, directory fsync). docs/operations.md "Data directory".
//
// Cluster mode (postgres_url set): the catalogue lives in PostgreSQL and the directory is
// this replica's own (TLS files, the local artifact cache). Every replica is given the
// same master key file (master_key_file: how a Kubernetes Secret is mounted).
struct DataDir {
  std::filesystem::path root;
  std::string postgres_url;               // empty: embedded SQLite registry in root
  std::filesystem::path master_key_file;  // empty: root/master.key
  bool clustered() const { return !postgres_url.empty(); }
  std::filesystem::path certificate() const { return root / "tls" / "cert.pem"; }
  std::filesystem::path private_key() const { return root / "tls" / "key.pem"; }
  std::filesystem::path master_key() const {
    return master_key_file.empty() ? root / "master.key" : master_key_file;
  }
  // Exists only while a master key rotation is under way (or was interrupted).
  std::filesystem::path new_master_key() const { return root / "master.key.new"; }
  std::filesystem::path admin_key() const { return root / "admin.key"; }  // init's first key
  // The registry, with artifacts encrypted at rest under the master key's data key (and
  // readable under the next one while a rotation is under way).
  registry::RegistryOptions registry_options() const;
  // The registry is created last by init, after the master key and the certificate.
  // Cluster mode: this replica's files are there (the catalogue is checked by opening it).
  bool initialised() const;
};

// fsync of a directory, so that a rename or a new file in it is durable.
void sync_directory(const std::filesystem::path& directory);
// `text` in a file of mode 0600, durable under `path` before this returns.
void write_secret_file(const std::filesystem::path& path, const std::string& text);
// A fresh random master key, durable before this returns: what is encrypted under it must
// never outlive it.
void write_master_key(const std::filesystem::path& path);

struct RotationReport {
  int artifacts = 0;  // re-encrypted
  int keys = 0;       // API key secrets re-sealed
};
// Re-encrypts every artifact and re-seals every API key under a new master key, then
// makes it the master key. Crash-safe and resumable (see data_dir.cpp).
RotationReport rotate_master_key(const DataDir& dir);
// Throws while an interrupted rotation is pending: nothing else may use the directory.
void refuse_during_rotation(const DataDir& dir);

}  // namespace mg::gateway
