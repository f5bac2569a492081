// Artifact signatures: the file format, Ed25519 sign/verify, and the registry's trust
// decisions (by the signers trusted now).
#include "registry/artifact_signature.h"

#include <gtest/gtest.h>

#include "registry/registry.h"
#include "registry/registry_error.h"
#include "registry/sha256.h"
#include "tests/registry/temp_dir.h"
#include "tests/registry/test_engines.h"
#include "tests/registry/test_keys.h"

namespace mg::registry {
namespace {

std::string digest_of(const std::string& content) {
  return sha256_hex(std::as_bytes(std::span(content.data(), content.size())));
}

TEST(ArtifactSignature, SignsAndVerifiesOnlyWithTheRightKeyAndContent) {
  const std::string digest = digest_of("weights");
  const ArtifactSignature s = sign_digest(digest, test_keys::kPrivate1);
  EXPECT_EQ(s.digest, digest);
  EXPECT_EQ(s.public_key, public_key_fingerprint(test_keys::kPublic1));
  EXPECT_EQ(s.signature.size(), 64u);
  EXPECT_TRUE(verify_signature(s, test_keys::kPublic1));
  EXPECT_FALSE(verify_signature(s, test_keys::kPublic2));  // an untrusted key
  ArtifactSignature other = s;
  other.digest = digest_of("other weights");  // the signature over other content
  EXPECT_FALSE(verify_signature(other, test_keys::kPublic1));
  ArtifactSignature flipped = s;
  flipped.signature[10] ^= 1;
  EXPECT_FALSE(verify_signature(flipped, test_keys::kPublic1));
  EXPECT_THROW(sign_digest(digest, test_keys::kPublic1), RegistryError);  // not a private key
  EXPECT_THROW(sign_digest("abc", test_keys::kPrivate1), RegistryError);
}

TEST(ArtifactSignature, TheFileRoundTripsAndBadFilesAreNamed) {
  const ArtifactSignature s = sign_digest(digest_of("weights"), test_keys::kPrivate1);
  const std::string file = format_signature(s);
  EXPECT_TRUE(file.starts_with("modelgate-signature v1\nalgorithm ed25519\ndigest sha256:"));
  const ArtifactSignature parsed = parse_signature(file);
  EXPECT_EQ(parsed.digest, s.digest);
  EXPECT_EQ(parsed.public_key, s.public_key);
  EXPECT_EQ(parsed.signature, s.signature);
  auto refused = [](const std::string& text, const std::string& fragment) {
    try {
      parse_signature(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const RegistryError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  refused(file.substr(0, file.size() / 2), "truncated");
  refused(file.substr(0, file.size() - 10), "128 lowercase hex");
  refused("", "truncated");
  refused(std::string(10000, 'x'), "not one");
  std::string wrong_algorithm = file;
  wrong_algorithm.replace(wrong_algorithm.find("ed25519"), 7, "rsa4096");
  refused(wrong_algorithm, "algorithm");
  refused(file + "extra\n", "unexpected");
}

class RegistrySigners : public ::testing::TestWithParam<testing::Engine> {};
INSTANTIATE_TEST_SUITE_P(Engines, RegistrySigners,
                         ::testing::Values(testing::Engine::kSqlite, testing::Engine::kPostgres),
                         testing::engine_name);

TEST_P(RegistrySigners, TheRegistryTrustsOnlyCurrentSigners) {
  testing::TempDir dir;
  testing::EngineDatabase database(GetParam());
  if (!database.available()) GTEST_SKIP() << "no PostgreSQL test server";
  Registry registry(database.with({dir.path()}));
  registry.create_model({"m"}, "a");
  const std::string content = "weights";
  const StoredArtifact artifact =
      registry.artifacts().put(std::as_bytes(std::span(content.data(), content.size())));
  registry.add_version("m", artifact, "", "a");
  const ArtifactSignature s = sign_digest(artifact.digest, test_keys::kPrivate1);
  EXPECT_FALSE(registry.trusted_signer(s));  // nobody trusted yet
  registry.add_signer("other", test_keys::kPublic2, "a");
  EXPECT_FALSE(registry.trusted_signer(s));
  registry.add_signer("release", test_keys::kPublic1, "a");
  EXPECT_EQ(registry.trusted_signer(s).value_or(""), "release");
  registry.add_signature(artifact.digest, "release", s.signature, "a");
  EXPECT_EQ(registry.verified_signer(artifact.digest).value_or(""), "release");
  registry.remove_signer("release", "a");  // its signatures stop counting at once
  EXPECT_FALSE(registry.verified_signer(artifact.digest));
}

}  // namespace
}  // namespace mg::registry
