// Model protection through the admin API: signed uploads, require_signature per model and
// server-wide, re-verification at every load, a tampered artifact refused while the
// serving version keeps serving, signer removal, the signers routes.
#include <openssl/evp.h>

#include "registry/artifact_signature.h"
#include "registry/sha256.h"
#include "tests/gateway/api/router_fixture.h"
#include "tests/registry/test_keys.h"

namespace mg::gateway {
namespace {

class ModelProtectionTest : public RouterTest {
 protected:
  std::string mlp_ = read_file(kModels / "fashion-mlp.onnx");

  std::string signature_file(const std::string& content, const char* private_key) {
    const std::string digest =
        registry::sha256_hex(std::as_bytes(std::span(content.data(), content.size())));
    return registry::format_signature(registry::sign_digest(digest, private_key));
  }
  // An upload through the streaming path, as the server runs it, with an optional
  // signature file in X-MG-Artifact-Signature.
  // `files`: the X-MG-Version-Files header ("name=digest, …"); a model "" uploads an
  // artifact (POST /admin/v1/artifacts) for a version to carry.
  HttpResponse upload(const std::string& model, const std::string& content,
                      const std::string& signature = "", const std::string& query = "",
                      const std::string& files = "") {
    HttpRequest head{
        "POST",
        model.empty() ? "/admin/v1/artifacts" : "/admin/v1/models/" + model + "/versions" + query,
        {{"Authorization", "Bearer " + admin_key_}},
        ""};
    if (!files.empty()) head.headers.emplace_back("X-MG-Version-Files", files);
    if (!signature.empty()) {
      std::string encoded(4 * ((signature.size() + 2) / 3) + 1, '\0');
      encoded.resize(static_cast<std::size_t>(
          EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                          reinterpret_cast<const unsigned char*>(signature.data()),
                          static_cast<int>(signature.size()))));
      head.headers.emplace_back("X-MG-Artifact-Signature", encoded);
    }
    StreamDecision decision = route_stream(head, *services_);
    if (decision.refusal) return *decision.refusal;
    decision.sink->write(std::span<const char>(content.data(), content.size()));
    return decision.sink->finish(true);
  }
  void create_signed_model(const std::string& name) {
    ASSERT_EQ(admin("POST", "/admin/v1/models",
                    R"({"name":")" + name +
                        R"(","require_signature":true,"config":{"max_batch_size":8}})")
                  .status,
              201);
  }
  void trust(const std::string& name, const char* public_key) {
    json::object body{{"name", name}, {"public_key", public_key}};
    ASSERT_EQ(admin("POST", "/admin/v1/signers", json::serialize(body)).status, 201);
  }
};

TEST_F(ModelProtectionTest, RequiredSignaturesAreCheckedAtUpload) {
  create_signed_model("secure");
  trust("release", test_keys::kPublic1);
  expect_error(upload("secure", mlp_), 400, "bad_request", "requires a signature");
  expect_error(upload("secure", mlp_, signature_file(mlp_, test_keys::kPrivate2)), 400,
               "bad_request", "trusted signer");
  expect_error(upload("secure", mlp_, signature_file("other content", test_keys::kPrivate1)), 400,
               "bad_request", "other content");
  const std::string good = signature_file(mlp_, test_keys::kPrivate1);
  expect_error(upload("secure", mlp_, good.substr(0, good.size() / 2)), 400, "bad_request",
               "truncated");
  EXPECT_TRUE(registry_->list_versions("secure").empty());  // nothing stored by refusals
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "artifacts" / "tmp"));
  HttpResponse ok = upload("secure", mlp_, good, "?promote=true");
  ASSERT_EQ(ok.status, 201) << ok.body;
  const auto digest = std::string(body_of(ok)["artifact"].as_string());
  ASSERT_EQ(registry_->list_signatures(digest).size(), 1u);
  EXPECT_EQ(registry_->list_signatures(digest)[0].signer, "release");
  EXPECT_EQ(call("POST", "/v2/models/secure/infer", mlp_request()).status, 200);
  // Models without the flag take unsigned uploads; a signature, when sent, is still checked.
  EXPECT_EQ(upload("fashion-mlp", mlp_).status, 201);
  expect_error(upload("fashion-mlp", mlp_, signature_file(mlp_, test_keys::kPrivate2)), 400,
               "bad_request", "trusted signer");
}

TEST_F(ModelProtectionTest, ServerWidePolicyCoversEveryModel) {
  models_->set_require_signature(true);
  expect_error(upload("fashion-mlp", mlp_), 400, "bad_request", "requires a signature");
  trust("release", test_keys::kPublic1);
  EXPECT_EQ(upload("fashion-mlp", mlp_, signature_file(mlp_, test_keys::kPrivate1)).status, 201);
  // Versions loaded before the policy have no signature: their next load is refused.
  EXPECT_EQ(admin("POST", "/admin/v1/models/text-classifier/versions/1/unload").status, 200);
  expect_error(admin("POST", "/admin/v1/models/text-classifier/versions/1/load"), 400,
               "bad_request", "no valid signature");
}

TEST_F(ModelProtectionTest, TamperedArtifactsFailToLoadAndTheServingVersionKeepsServing) {
  create_signed_model("secure");
  trust("release", test_keys::kPublic1);
  ASSERT_EQ(
      upload("secure", mlp_, signature_file(mlp_, test_keys::kPrivate1), "?promote=true").status,
      201);
  // Version 2: other bytes (a trailing byte the ONNX parser ignores would still change the
  // digest); signed, uploaded, then one byte flipped on disk before it is loaded.
  const std::string v2 = mlp_ + std::string(1, '\0');
  HttpResponse second = upload("secure", v2, signature_file(v2, test_keys::kPrivate1));
  ASSERT_EQ(second.status, 201) << second.body;
  const std::filesystem::path file =
      registry_->artifacts().path_of(std::string(body_of(second)["artifact"].as_string()));
  std::filesystem::permissions(file, std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x7f');
  }
  expect_error(admin("PUT", "/admin/v1/models/secure/aliases/default", R"({"version":2})"), 400,
               "bad_request", "failed to load");
  const auto failed = registry_->find_version("secure", 2);
  EXPECT_EQ(failed->state, registry::VersionState::kFailed);
  EXPECT_NE(failed->state_reason.find("corrupt"), std::string::npos) << failed->state_reason;
  EXPECT_EQ(registry_->resolve("secure", "default"), 1);
  HttpResponse still = call("POST", "/v2/models/secure/infer", mlp_request());
  EXPECT_EQ(still.status, 200);
  EXPECT_EQ(body_of(still)["model_version"].as_string(), "1");
  bool audited = false;
  for (const auto& e : registry_->audit_log()) {
    audited =
        audited || (e.target == "secure/2" && e.details_json.find("failed") != std::string::npos);
  }
  EXPECT_TRUE(audited);
}

TEST_F(ModelProtectionTest, RemovingASignerStopsTrustAtTheNextLoad) {
  create_signed_model("secure");
  trust("release", test_keys::kPublic1);
  ASSERT_EQ(
      upload("secure", mlp_, signature_file(mlp_, test_keys::kPrivate1), "?promote=true").status,
      201);
  auto signers = body_of(admin("GET", "/admin/v1/signers"))["signers"].as_array();
  ASSERT_EQ(signers.size(), 1u);
  EXPECT_EQ(signers[0].as_object().at("public_key_sha256").as_string(),
            registry::public_key_fingerprint(test_keys::kPublic1));
  EXPECT_EQ(admin("DELETE", "/admin/v1/signers/release").status, 200);
  // Loaded versions keep serving until they are loaded again; then the signature no longer
  // counts.
  EXPECT_EQ(call("POST", "/v2/models/secure/infer", mlp_request()).status, 200);
  EXPECT_EQ(admin("POST", "/admin/v1/models/secure/versions/1/unload").status, 200);
  expect_error(admin("POST", "/admin/v1/models/secure/versions/1/load"), 400, "bad_request",
               "no valid signature");
  expect_error(admin("POST", "/admin/v1/signers", R"({"name":"bad","public_key":"nope"})"), 400,
               "bad_request", "Ed25519");
  expect_error(admin("DELETE", "/admin/v1/signers/nobody"), 404, "not_found", "nobody");
}

// A version's files (a vocabulary) are protected as its model is: a model that requires
// signatures takes only files signed by a trusted signer, and every load checks them again.
TEST_F(ModelProtectionTest, ASignedModelsFilesMustBeSignedToo) {
  const std::string text = read_file(kModels / "text-classifier.onnx");
  const std::string vocab = read_file(kModels / "text-vocab.txt");
  ASSERT_EQ(admin("POST", "/admin/v1/models",
                  R"({"name":"text","require_signature":true,"config":{"max_batch_size":8,)"
                  R"("preprocess":{"tokens":{"type":"text"}}}})")
                .status,
            201);
  trust("release", test_keys::kPublic1);
  trust("data", test_keys::kPublic2);
  const std::string model_signature = signature_file(text, test_keys::kPrivate1);
  // An unsigned file is stored (this server does not require signatures of everything) but
  // a signed model cannot carry it.
  HttpResponse unsigned_file = upload("", vocab);
  ASSERT_EQ(unsigned_file.status, 201) << unsigned_file.body;
  const std::string digest(body_of(unsigned_file)["digest"].as_string());
  EXPECT_EQ(body_of(unsigned_file)["signer"], "");
  expect_error(upload("text", text, model_signature, "", "vocabulary=" + digest), 400,
               "bad_request", "the file 'vocabulary'");
  // A file's signature is checked as a model's is.
  expect_error(upload("", vocab, signature_file("other", test_keys::kPrivate2)), 400, "bad_request",
               "other content");
  HttpResponse signed_file = upload("", vocab, signature_file(vocab, test_keys::kPrivate2));
  ASSERT_EQ(signed_file.status, 201) << signed_file.body;
  EXPECT_EQ(body_of(signed_file)["signer"], "data");
  HttpResponse ok = upload("text", text, model_signature, "?promote=true", "vocabulary=" + digest);
  ASSERT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(body_of(ok)["state"], "ready");
  EXPECT_EQ(call("POST", "/v2/models/text/infer",
                 R"({"inputs":[{"name":"tokens","datatype":"BYTES","shape":[1],)"
                 R"("data":["GNU C library"]}]})")
                .status,
            200);
  // The file's signer is no longer trusted: the next load of the version fails naming it.
  ASSERT_EQ(admin("DELETE", "/admin/v1/signers/data").status, 200);
  ASSERT_EQ(admin("POST", "/admin/v1/models/text/versions/1/unload").status, 200);
  expect_error(admin("POST", "/admin/v1/models/text/versions/1/load"), 400, "bad_request",
               "the file 'vocabulary' of version 1");
}

}  // namespace
}  // namespace mg::gateway
