// The registry's catalogue: round trips of every entity, validation, and refusals.
#include "registry/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>

#include "registry/registry_error.h"
#include "registry/schema.h"
#include "registry/sqlite.h"
#include "tests/registry/temp_dir.h"
#include "tests/registry/test_engines.h"
#include "tests/registry/test_keys.h"

namespace mg::registry {
namespace {

using testing::bytes_of;
using testing::TempDir;
using Code = RegistryError::Code;

// Every test runs on both engines: embedded SQLite and cluster PostgreSQL.
class RegistryTest : public ::testing::TestWithParam<testing::Engine> {
 protected:
  void SetUp() override {
    if (!database_.available()) GTEST_SKIP() << "no PostgreSQL test server";
    registry_ = std::make_unique<Registry>(options());
  }
  RegistryOptions options() {
    return database_.with(RegistryOptions{dir_.path(), [this] { return clock_ += 1000; }});
  }
  StoredArtifact upload(const std::string& content) {
    return registry_->artifacts().put(bytes_of(content));
  }
  void expect_code(Code code, const std::function<void()>& action, const std::string& fragment) {
    try {
      action();
      ADD_FAILURE() << "no error; expected one containing '" << fragment << "'";
    } catch (const RegistryError& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }

  TempDir dir_;
  int64_t clock_ = 1'700'000'000'000;
  testing::EngineDatabase database_{GetParam()};
  std::unique_ptr<Registry> registry_;
};

INSTANTIATE_TEST_SUITE_P(Engines, RegistryTest,
                         ::testing::Values(testing::Engine::kSqlite, testing::Engine::kPostgres),
                         testing::engine_name);

TEST_P(RegistryTest, ModelRoundTripSurvivesReopen) {
  ModelSpec spec{"fashion-mlp", "cpu", "784-64-64-10", R"({"max_batch_size": 32})", true};
  ModelRecord created = registry_->create_model(spec, "admin1");
  EXPECT_EQ(created.name, "fashion-mlp");
  EXPECT_EQ(created.next_version, 1);
  registry_.reset();
  registry_ = std::make_unique<Registry>(options());
  auto model = registry_->find_model("fashion-mlp");
  ASSERT_TRUE(model);
  EXPECT_EQ(model->backend, "cpu");
  EXPECT_EQ(model->description, "784-64-64-10");
  EXPECT_EQ(model->config_json, R"({"max_batch_size": 32})");
  EXPECT_TRUE(model->require_signature);
  EXPECT_EQ(model->created_at, created.created_at);
  EXPECT_EQ(registry_->list_models().size(), 1u);
}

TEST_P(RegistryTest, VersionsAreMonotonicAndNeverReused) {
  registry_->create_model({"m"}, "admin1");
  auto v1 = registry_->add_version("m", upload("one"), "first", "admin1");
  auto v2 = registry_->add_version("m", upload("two"), "", "admin1");
  EXPECT_EQ(v1.version, 1);
  EXPECT_EQ(v2.version, 2);
  EXPECT_EQ(v1.notes, "first");
  EXPECT_EQ(v1.size, 3u);
  EXPECT_EQ(v1.state, VersionState::kRegistered);
  registry_->set_version_state("m", 2, VersionState::kRetired, "", "admin1");
  auto v3 = registry_->add_version("m", upload("three"), "", "admin1");
  EXPECT_EQ(v3.version, 3);  // 2 is retired, not reused
  registry_.reset();
  registry_ = std::make_unique<Registry>(options());
  auto v4 = registry_->add_version("m", upload("four"), "", "admin1");
  EXPECT_EQ(v4.version, 4);
  auto versions = registry_->list_versions("m");
  ASSERT_EQ(versions.size(), 4u);
  EXPECT_EQ(versions[1].state, VersionState::kRetired);
}

TEST_P(RegistryTest, StateMachineAllowsOnlyDocumentedTransitions) {
  registry_->create_model({"m"}, "admin1");
  registry_->add_version("m", upload("one"), "", "admin1");
  registry_->set_version_state("m", 1, VersionState::kLoading, "", "gw");
  registry_->set_version_state("m", 1, VersionState::kFailed, "bad weights", "gw");
  auto failed = registry_->find_version("m", 1);
  EXPECT_EQ(failed->state, VersionState::kFailed);
  EXPECT_EQ(failed->state_reason, "bad weights");
  registry_->set_version_state("m", 1, VersionState::kLoading, "", "gw");
  registry_->set_version_state("m", 1, VersionState::kReady, "", "gw");
  EXPECT_EQ(registry_->find_version("m", 1)->state_reason, "");
  // A ready version whose backend worker gave up is failed; loading it again is allowed.
  registry_->set_version_state("m", 1, VersionState::kFailed, "worker gave up", "gw");
  EXPECT_EQ(registry_->find_version("m", 1)->state_reason, "worker gave up");
  registry_->set_version_state("m", 1, VersionState::kRegistered, "", "gw");
  expect_code(
      Code::kConflict,
      [&] { registry_->set_version_state("m", 1, VersionState::kFailed, "", "gw"); },
      "is registered and cannot become failed");
  registry_->set_version_state("m", 1, VersionState::kRetired, "", "gw");
  expect_code(
      Code::kConflict,
      [&] { registry_->set_version_state("m", 1, VersionState::kLoading, "", "gw"); },
      "is retired");
}

TEST_P(RegistryTest, AliasesFlipAndResolve) {
  registry_->create_model({"m"}, "admin1");
  registry_->add_version("m", upload("one"), "", "admin1");
  registry_->add_version("m", upload("two"), "", "admin1");
  EXPECT_EQ(registry_->resolve("m", "default"), std::nullopt);
  registry_->set_alias("m", "default", 1, "admin1");
  registry_->set_alias("m", "canary", 2, "admin1");
  EXPECT_EQ(registry_->resolve("m", "default"), 1);
  EXPECT_EQ(registry_->resolve("m", "canary"), 2);
  EXPECT_EQ(registry_->resolve("m", "2"), 2);
  EXPECT_EQ(registry_->resolve("m", "3"), std::nullopt);
  EXPECT_EQ(registry_->resolve("m", "production"), std::nullopt);
  EXPECT_EQ(registry_->resolve("other", "default"), std::nullopt);
  registry_->set_alias("m", "default", 2, "admin1");
  EXPECT_EQ(registry_->resolve("m", "default"), 2);
  auto aliases = registry_->list_aliases("m");
  ASSERT_EQ(aliases.size(), 2u);
  EXPECT_EQ(aliases[0].alias, "canary");
  registry_->remove_alias("m", "canary", "admin1");
  EXPECT_EQ(registry_->resolve("m", "canary"), std::nullopt);
  expect_code(
      Code::kNotFound, [&] { registry_->remove_alias("m", "canary", "admin1"); },
      "no alias 'canary'");
}

TEST_P(RegistryTest, RetiringAnAliasedVersionIsRefused) {
  registry_->create_model({"m"}, "admin1");
  registry_->add_version("m", upload("one"), "", "admin1");
  registry_->set_alias("m", "default", 1, "admin1");
  expect_code(
      Code::kConflict,
      [&] { registry_->set_version_state("m", 1, VersionState::kRetired, "", "admin1"); },
      "alias 'default'");
  registry_->add_version("m", upload("two"), "", "admin1");
  registry_->set_version_state("m", 2, VersionState::kRetired, "", "admin1");
  expect_code(
      Code::kConflict, [&] { registry_->set_alias("m", "default", 2, "admin1"); }, "is retired");
}

TEST_P(RegistryTest, RetirementReleasesTheArtifactUnlessStillUsed) {
  registry_->create_model({"a"}, "admin1");
  registry_->create_model({"b"}, "admin1");
  StoredArtifact shared = upload("shared weights");
  registry_->add_version("a", shared, "", "admin1");
  registry_->add_version("b", shared, "", "admin1");
  registry_->set_version_state("a", 1, VersionState::kRetired, "", "admin1");
  EXPECT_TRUE(registry_->artifacts().contains(shared.digest));  // b/1 still uses it
  registry_->set_version_state("b", 1, VersionState::kRetired, "", "admin1");
  EXPECT_FALSE(registry_->artifacts().contains(shared.digest));
}

// A version's files (a vocabulary, labels) are artifacts it references: added before it,
// listed with it, kept while it lives and released when it is retired.
TEST_P(RegistryTest, AVersionsFilesLiveAndDieWithIt) {
  registry_->create_model({"text"}, "admin1");
  const StoredArtifact vocabulary = upload("<pad>\n<unk>\nword\n");
  registry_->add_artifact(vocabulary, "admin1");
  expect_code(
      Code::kNotFound,
      [&] {
        registry_->add_version("text", upload("model"), "", "admin1", false,
                               {{"labels", std::string(64, 'a')}});
      },
      "file 'labels'");
  expect_code(
      Code::kInvalidArgument,
      [&] {
        registry_->add_version("text", upload("model"), "", "admin1", false,
                               {{"Vocab", vocabulary.digest}});
      },
      "version file name 'Vocab'");
  EXPECT_TRUE(registry_->list_versions("text").empty());
  const VersionRecord v = registry_->add_version("text", upload("model"), "", "admin1", false,
                                                 {{"vocabulary", vocabulary.digest}});
  EXPECT_EQ(v.files, (std::map<std::string, std::string>{{"vocabulary", vocabulary.digest}}));
  // Long after the upload, across a reopen (which collects garbage), still there.
  clock_ += Registry::kUnreferencedArtifactGraceMs + 1;
  registry_.reset();
  registry_ = std::make_unique<Registry>(options());
  EXPECT_TRUE(registry_->artifacts().contains(vocabulary.digest));
  EXPECT_EQ(registry_->find_version("text", 1)->files.at("vocabulary"), vocabulary.digest);
  const auto audit = registry_->audit_log();
  ASSERT_GE(audit.size(), 3u);
  EXPECT_EQ(audit[1].action, "artifact.add");
  EXPECT_NE(audit[2].details_json.find(vocabulary.digest), std::string::npos);
  registry_->set_version_state("text", 1, VersionState::kRetired, "", "admin1");
  EXPECT_FALSE(registry_->artifacts().contains(vocabulary.digest));
}

TEST_P(RegistryTest, AnArtifactAwaitingItsVersionIsKeptForAGracePeriod) {
  const StoredArtifact labels = upload("cat\ndog\n");
  registry_->add_artifact(labels, "admin1");
  EXPECT_EQ(registry_->collect_garbage().unreferenced_blobs, 0);
  EXPECT_TRUE(registry_->artifacts().contains(labels.digest));
  clock_ += Registry::kUnreferencedArtifactGraceMs + 1;
  EXPECT_EQ(registry_->collect_garbage().unreferenced_blobs, 1);
  EXPECT_FALSE(registry_->artifacts().contains(labels.digest));
  // Added again (content-addressed: the same digest), it is kept again.
  registry_->add_artifact(upload("cat\ndog\n"), "admin1");
  EXPECT_EQ(registry_->collect_garbage().unreferenced_blobs, 0);
}

// Evaluation datasets and reports, on both engines: a dataset keeps its file past the
// grace period and releases it when removed; reports come back newest first with their
// ids; the gate lives in the model config; every change is audited.
TEST_P(RegistryTest, DatasetsReportsAndGatesRoundTrip) {
  registry_->create_model({"m", "cpu", "", R"({"max_batch_size": 4})"}, "admin1");
  const StoredArtifact data = upload("{\"inputs\":[1],\"labels\":[0]}\n");
  expect_code(
      Code::kNotFound, [&] { registry_->put_dataset("d", data.digest, "", 1, "admin1"); },
      "upload the file first");
  registry_->add_artifact(data, "admin1");
  expect_code(
      Code::kInvalidArgument,
      [&] { registry_->put_dataset("Bad Name", data.digest, "", 1, "admin1"); }, "dataset");
  const DatasetEntry d = registry_->put_dataset("d", data.digest, "held out", 1, "admin1");
  EXPECT_EQ(d.artifact, data.digest);
  EXPECT_EQ(d.records, 1);
  EXPECT_EQ(registry_->list_datasets().size(), 1u);
  EXPECT_EQ(registry_->find_dataset("d")->description, "held out");
  clock_ += Registry::kUnreferencedArtifactGraceMs + 1;
  EXPECT_EQ(registry_->collect_garbage().unreferenced_blobs, 0);  // a dataset names it

  registry_->add_version("m", upload("model"), "", "admin1");
  registry_->add_version("m", upload("model 2"), "", "admin1");
  EvaluationReport first{0, "m", 1, "d", data.digest, 0, true, R"({"figures":{}})"};
  EvaluationReport second{0, "m", 2, "d", data.digest, 1, false, R"({"figures":{"x":1}})"};
  const int64_t id1 = registry_->add_report(first, "admin1").id;
  const EvaluationReport stored = registry_->add_report(second, "admin2");
  EXPECT_GT(stored.id, id1);
  EXPECT_EQ(stored.actor, "admin2");
  const auto all = registry_->list_reports("m");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, stored.id);  // newest first
  EXPECT_EQ(all[0].baseline_version, 1);
  EXPECT_FALSE(all[0].passed);
  EXPECT_EQ(all[1].report_json, R"({"figures":{}})");
  EXPECT_EQ(registry_->list_reports("m", 1).size(), 1u);
  EXPECT_EQ(registry_->find_report("m", id1)->version, 1);
  EXPECT_FALSE(registry_->find_report("other", id1).has_value());

  registry_->set_model_section("m", "gate", R"({"dataset":"d","min_accuracy":0.9})", "admin1");
  EXPECT_NE(registry_->find_model("m")->config_json.find(R"("gate":{"dataset":"d")"),
            std::string::npos);
  EXPECT_NE(registry_->find_model("m")->config_json.find(R"("max_batch_size":4)"),
            std::string::npos);
  registry_->set_model_section("m", "gate", "", "admin1");
  EXPECT_EQ(registry_->find_model("m")->config_json.find("gate"), std::string::npos);
  registry_->audit_forced_promotion("m", 2, R"({"failures":["x"]})", "admin1");

  registry_->remove_dataset("d", "admin1");
  EXPECT_FALSE(registry_->artifacts().contains(data.digest));
  expect_code(
      Code::kNotFound, [&] { registry_->remove_dataset("d", "admin1"); }, "no dataset");
  std::vector<std::string> actions;
  for (const auto& e : registry_->audit_log()) actions.push_back(e.action);
  for (const char* action : {"dataset.upload", "version.evaluate", "model.gate",
                             "version.promote_forced", "dataset.remove"}) {
    EXPECT_NE(std::find(actions.begin(), actions.end(), action), actions.end()) << action;
  }
}

// A weighted alias survives a reopen with its order, weights and stickiness; the split
// picks by its weights; a plain set clears it; its versions cannot be retired.
TEST_P(RegistryTest, WeightedAliasesRoundTrip) {
  registry_->create_model({"m"}, "admin1");
  registry_->add_version("m", upload("a"), "", "admin1");
  registry_->add_version("m", upload("b"), "", "admin1");
  registry_->set_alias_split("m", "default", {{2, 90}, {1, 10}}, true, "admin1");
  registry_.reset();
  registry_ = std::make_unique<Registry>(options());
  auto aliases = registry_->list_aliases("m");
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases[0].version, 2);
  ASSERT_TRUE(aliases[0].split.has_value());
  EXPECT_TRUE(aliases[0].split->sticky);
  EXPECT_EQ(aliases[0].split->total, 100u);
  ASSERT_EQ(aliases[0].split->versions.size(), 2u);
  EXPECT_EQ(aliases[0].split->versions[1].version, 1);
  EXPECT_EQ(aliases[0].split->pick(89), 2);
  EXPECT_EQ(aliases[0].split->pick(90), 1);
  EXPECT_EQ(aliases[0].split->pick(199), 1);
  EXPECT_EQ(*registry_->resolve("m", "default"), 2);
  EXPECT_EQ(*registry_->catalog()->route("m", "default", 0, 95), 1);  // sticky: its own draw
  expect_code(
      Code::kConflict,
      [&] { registry_->set_version_state("m", 1, VersionState::kRetired, "", "admin1"); },
      "alias 'default'");
  expect_code(
      Code::kInvalidArgument,
      [&] {
        registry_->set_alias_split("m", "default", {{1, 1}, {1, 2}}, false, "a");
      },
      "named twice");
  expect_code(
      Code::kInvalidArgument,
      [&] {
        registry_->set_alias_split("m", "default", {{1, 0}, {2, 2}}, false, "a");
      },
      "weight");
  registry_->set_alias("m", "default", 1, "admin1");
  EXPECT_FALSE(registry_->list_aliases("m")[0].split.has_value());
  registry_->set_version_state("m", 2, VersionState::kRetired, "", "admin1");
}

TEST_P(RegistryTest, UnknownAndDuplicateNamesAreClearErrors) {
  registry_->create_model({"m"}, "admin1");
  expect_code(
      Code::kAlreadyExists, [&] { registry_->create_model({"m"}, "admin1"); },
      "model 'm' already exists");
  expect_code(
      Code::kModelNotFound, [&] { registry_->add_version("nope", upload("x"), "", "a"); },
      "no model 'nope'");
  expect_code(
      Code::kNotFound, [&] { registry_->set_alias("m", "default", 7, "a"); }, "has no version 7");
  expect_code(
      Code::kNotFound,
      [&] { registry_->set_version_state("m", 9, VersionState::kLoading, "", "a"); },
      "has no version 9");
  expect_code(
      Code::kModelNotFound, [&] { registry_->list_versions("nope"); }, "no model 'nope'");
  EXPECT_EQ(registry_->find_version("m", 1), std::nullopt);
  // A version needs its artifact in the store first.
  StoredArtifact ghost{"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9", 11};
  expect_code(
      Code::kNotFound, [&] { registry_->add_version("m", ghost, "", "a"); }, "upload it first");
}

TEST_P(RegistryTest, BadNamesAndConfigsAreRefusedBeforeAnyChange) {
  for (const char* bad : {"", "Upper", "-lead", "has space", "../etc", "a/b", "x\n",
                          "sixty-five-characters-is-one-too-many-for-a-name-in-this-registry-x"}) {
    expect_code(
        Code::kInvalidArgument, [&] { registry_->create_model({bad}, "a"); }, "invalid");
  }
  expect_code(
      Code::kInvalidArgument,
      [&] {
        registry_->create_model({"m", "cpu", "", "[1,2]"}, "a");
      },
      "config must be a JSON object");
  expect_code(
      Code::kInvalidArgument,
      [&] {
        registry_->create_model({"m", "cpu", "", "{\"a\":"}, "a");
      },
      "config must be a JSON object");
  registry_->create_model({"m"}, "a");
  registry_->add_version("m", upload("x"), "", "a");
  expect_code(
      Code::kInvalidArgument, [&] { registry_->set_alias("m", "42", 1, "a"); },
      "cannot be a number");
  expect_code(
      Code::kInvalidArgument, [&] { registry_->set_alias("m", "Prod", 1, "a"); }, "invalid");
  EXPECT_EQ(registry_->list_models().size(), 1u);
}

TEST_P(RegistryTest, EveryChangeIsAuditedInOrder) {
  registry_->create_model({"m"}, "admin1");
  registry_->add_version("m", upload("one"), "v1", "admin1");
  registry_->set_alias("m", "default", 1, "key42");
  registry_->set_version_state("m", 1, VersionState::kLoading, "", "system");
  registry_->add_signer("release", test_keys::kPublic1, "admin1");
  auto log = registry_->audit_log();
  ASSERT_EQ(log.size(), 5u);
  EXPECT_EQ(log[0].action, "model.create");
  EXPECT_EQ(log[0].actor, "admin1");
  EXPECT_EQ(log[1].action, "version.create");
  EXPECT_EQ(log[1].target, "m/1");
  EXPECT_NE(log[1].details_json.find("\"notes\":\"v1\""), std::string::npos);
  EXPECT_EQ(log[2].action, "alias.set");
  EXPECT_EQ(log[2].actor, "key42");
  EXPECT_EQ(log[2].target, "m:default");
  EXPECT_EQ(log[3].details_json, R"({"from":"registered","to":"loading","reason":""})");
  EXPECT_EQ(log[4].action, "signer.add");
  for (std::size_t i = 1; i < log.size(); ++i) EXPECT_GT(log[i].time, log[i - 1].time);
  EXPECT_EQ(registry_->audit_log(log[3].id).size(), 1u);
}

TEST_P(RegistryTest, AuditLogIsAppendOnlyInTheDatabase) {
  registry_->create_model({"m"}, "admin1");
  registry_.reset();
  auto db = database_.open(dir_.path());
  EXPECT_THROW(db->exec("UPDATE audit_log SET actor = 'someone else'"), RegistryError);
  EXPECT_THROW(db->exec("DELETE FROM audit_log"), RegistryError);
}

TEST_P(RegistryTest, SignersAndSignaturesRoundTrip) {
  const std::string pem = test_keys::kPublic1;
  registry_->add_signer("release", pem, "admin1");
  expect_code(
      Code::kAlreadyExists, [&] { registry_->add_signer("release", pem, "a"); }, "already exists");
  expect_code(
      Code::kInvalidArgument, [&] { registry_->add_signer("x", "not pem", "a"); }, "PEM");
  expect_code(
      Code::kInvalidArgument,
      [&] {
        registry_->add_signer(
            "rsa", "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", "a");
      },
      "Ed25519");
  auto signers = registry_->list_signers();
  ASSERT_EQ(signers.size(), 1u);
  EXPECT_EQ(signers[0].public_key_pem, pem);
  EXPECT_EQ(signers[0].algorithm, "ed25519");

  registry_->create_model({"m"}, "a");
  StoredArtifact artifact = upload("weights");
  registry_->add_version("m", artifact, "", "a");
  std::string signature("\x00\x01\xff binary", 10);
  registry_->add_signature(artifact.digest, "release", signature, "admin1");
  auto signatures = registry_->list_signatures(artifact.digest);
  ASSERT_EQ(signatures.size(), 1u);
  EXPECT_EQ(signatures[0].signature, signature);
  EXPECT_EQ(signatures[0].signer, "release");
  registry_->remove_signer("release", "admin1");
  EXPECT_TRUE(registry_->list_signers().empty());
  expect_code(
      Code::kNotFound, [&] { registry_->remove_signer("release", "a"); }, "no signer");
}

TEST_P(RegistryTest, SecondProcessCannotOpenTheSameDataDir) {
  expect_code(
      Code::kConflict, [&] { Registry second(options()); }, "in use");
}

TEST_P(RegistryTest, OpenCollectsLeftoversOfACrash) {
  registry_->create_model({"m"}, "a");
  registry_->add_version("m", upload("kept"), "", "a");
  StoredArtifact orphan = upload("uploaded, but the version row never came");
  registry_.reset();
  std::ofstream(dir_.path() / "artifacts" / "tmp" / "upload-123") << "partial";
  registry_ = std::make_unique<Registry>(options());
  EXPECT_FALSE(registry_->artifacts().contains(orphan.digest));
  EXPECT_TRUE(registry_->artifacts().contains(registry_->find_version("m", 1)->artifact));
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "artifacts" / "tmp"));
}

TEST_P(RegistryTest, CatalogSnapshotsAreImmutableAndVersioned) {
  registry_->create_model({"m"}, "a");
  auto before = registry_->catalog();
  registry_->add_version("m", upload("one"), "", "a");
  auto after = registry_->catalog();
  EXPECT_GT(after->generation, before->generation);
  EXPECT_TRUE(before->find("m")->versions.empty());  // an old snapshot never changes
  EXPECT_EQ(after->find("m")->versions.size(), 1u);
}

TEST_P(RegistryTest, AUsageBatchIsAddedOnceHoweverOftenItIsOffered) {
  const std::vector<UsageRow> rows = {{1'700'000'000, "acme", "k1", "mlp", 1, 5, 7, 1},
                                      {1'700'000'000, "acme", "k2", "mlp", 1, 2, 2, 0}};
  EXPECT_TRUE(registry_->add_usage_batch("batch-a", rows));
  // A second replica (or a retry after a crash) offering the same batch adds nothing.
  EXPECT_FALSE(registry_->add_usage_batch("batch-a", rows));
  if (GetParam() == testing::Engine::kPostgres) {  // another replica, its own directory
    TempDir other_dir;
    RegistryOptions other_options = options();
    other_options.data_dir = other_dir.path();
    Registry other(other_options);
    EXPECT_FALSE(other.add_usage_batch("batch-a", rows));
    EXPECT_TRUE(other.add_usage_batch("batch-b", {rows[0]}));
  } else {
    EXPECT_TRUE(registry_->add_usage_batch("batch-b", {rows[0]}));
  }
  const std::vector<UsageRow> ledger = registry_->usage("acme", 0, 0);
  ASSERT_EQ(ledger.size(), 2u);
  EXPECT_EQ(ledger[0].key_id, "k1");
  EXPECT_EQ(ledger[0].requests, 10);
  EXPECT_EQ(ledger[0].items, 14);
  EXPECT_EQ(ledger[0].errors, 2);
  EXPECT_EQ(ledger[1].requests, 2);
}

}  // namespace
}  // namespace mg::registry
