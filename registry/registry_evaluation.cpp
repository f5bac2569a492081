// Registry: evaluation datasets, evaluation reports, models' promotion gates and shadows
// (docs/evaluation.md). Reports are read from the database, not the catalogue: they are
// read by admin calls and promotions, never on the request path.
#include <boost/json.hpp>

#include "registry/names.h"
#include "registry/registry.h"
#include "registry/registry_error.h"

namespace mg::registry {
namespace {

using Code = RegistryError::Code;

constexpr const char* kReportColumns =
    "r.id, m.name, r.version, r.dataset, r.dataset_artifact, r.baseline_version, r.passed, "
    "r.report, r.actor, r.created_at FROM evaluation_reports r JOIN models m ON m.id = r.model_id";

EvaluationReport report_of(const sql::Statement& row) {
  return EvaluationReport{row.column_int(0),      row.column_text(1), row.column_int(2),
                          row.column_text(3),     row.column_text(4), row.column_int(5),
                          row.column_int(6) != 0, row.column_text(7), row.column_text(8),
                          row.column_int(9)};
}

DatasetEntry dataset_of(const sql::Statement& row) {
  return DatasetEntry{row.column_text(0), row.column_text(1), row.column_text(2),
                      row.column_int(3),  row.column_int(4),  row.column_int(5)};
}

constexpr const char* kDatasetColumns =
    "SELECT name, artifact, description, records, created_at, updated_at FROM datasets";

}  // namespace

DatasetEntry Registry::put_dataset(const std::string& name, const std::string& artifact,
                                   const std::string& description, int64_t records,
                                   const std::string& actor) {
  validate_name("dataset", name);
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  auto known = db_->prepare("SELECT 1 FROM artifacts WHERE digest = ? AND present = 1");
  known.bind(1, artifact);
  if (!known.step()) {
    throw RegistryError(Code::kNotFound, "no artifact " + artifact + "; upload the file first");
  }
  const int64_t time = now();
  db_->prepare(
         "INSERT INTO datasets (name, artifact, description, records, created_at, updated_at) "
         "VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET artifact = excluded.artifact, "
         "description = excluded.description, records = excluded.records, "
         "updated_at = excluded.updated_at")
      .bind(1, name)
      .bind(2, artifact)
      .bind(3, description)
      .bind(4, records)
      .bind(5, time)
      .bind(6, time)
      .run();
  append_audit(
      actor, "dataset.upload", name,
      boost::json::serialize(boost::json::object{{"artifact", artifact}, {"records", records}}));
  auto stored = db_->prepare(std::string(kDatasetColumns) + " WHERE name = ?");
  stored.bind(1, name);
  stored.step();
  DatasetEntry entry = dataset_of(stored);
  transaction.commit();
  return entry;
}

std::optional<DatasetEntry> Registry::find_dataset(const std::string& name) const {
  std::lock_guard lock(write_mutex_);
  auto row = db_->prepare(std::string(kDatasetColumns) + " WHERE name = ?");
  row.bind(1, name);
  if (!row.step()) return std::nullopt;
  return dataset_of(row);
}

std::vector<DatasetEntry> Registry::list_datasets() const {
  std::lock_guard lock(write_mutex_);
  auto rows = db_->prepare(std::string(kDatasetColumns) + " ORDER BY name");
  std::vector<DatasetEntry> datasets;
  while (rows.step()) datasets.push_back(dataset_of(rows));
  return datasets;
}

void Registry::remove_dataset(const std::string& name, const std::string& actor) {
  validate_name("dataset", name);
  std::lock_guard lock(write_mutex_);
  {
    sql::Transaction transaction(*db_);
    db_->prepare("DELETE FROM datasets WHERE name = ?").bind(1, name).run();
    if (db_->changes() == 0) throw RegistryError(Code::kNotFound, "no dataset '" + name + "'");
    append_audit(actor, "dataset.remove", name, "{}");
    transaction.commit();
  }
  release_unreferenced_blobs();  // its file, unless a version or another dataset uses it
}

EvaluationReport Registry::add_report(EvaluationReport report, const std::string& actor,
                                      const std::string& audit_action) {
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  report.actor = actor;
  report.created_at = now();
  auto insert = db_->prepare(
      "INSERT INTO evaluation_reports (model_id, version, dataset, dataset_artifact, "
      "baseline_version, passed, report, actor, created_at) VALUES (?,?,?,?,?,?,?,?,?) "
      "RETURNING id");
  insert.bind(1, model_id(report.model))
      .bind(2, report.version)
      .bind(3, report.dataset)
      .bind(4, report.dataset_artifact)
      .bind(5, report.baseline_version)
      .bind(6, int64_t{report.passed ? 1 : 0})
      .bind(7, report.report_json)
      .bind(8, actor)
      .bind(9, report.created_at);
  if (!insert.step()) throw RegistryError(Code::kDatabase, "the report was not stored");
  report.id = insert.column_int(0);
  insert.reset();
  append_audit(actor, audit_action, report.model + "/" + std::to_string(report.version),
               boost::json::serialize(boost::json::object{
                   {"report", report.id}, {"dataset", report.dataset}, {"passed", report.passed}}));
  transaction.commit();
  return report;
}

std::vector<EvaluationReport> Registry::list_reports(const std::string& model, int64_t version,
                                                     int limit) const {
  std::lock_guard lock(write_mutex_);
  auto rows = db_->prepare(std::string("SELECT ") + kReportColumns +
                           " WHERE m.name = ? AND (? = 0 OR r.version = ?) ORDER BY r.id DESC "
                           "LIMIT ?");
  rows.bind(1, model).bind(2, version).bind(3, version).bind(4, int64_t{limit});
  std::vector<EvaluationReport> reports;
  while (rows.step()) reports.push_back(report_of(rows));
  return reports;
}

std::optional<EvaluationReport> Registry::find_report(const std::string& model, int64_t id) const {
  std::lock_guard lock(write_mutex_);
  auto row =
      db_->prepare(std::string("SELECT ") + kReportColumns + " WHERE m.name = ? AND r.id = ?");
  row.bind(1, model).bind(2, id);
  if (!row.step()) return std::nullopt;
  return report_of(row);
}

void Registry::set_model_section(const std::string& model, const std::string& key,
                                 const std::string& section_json, const std::string& actor) {
  std::lock_guard lock(write_mutex_);  // held through reload_catalog, which reads db_
  {
    sql::Transaction transaction(*db_);
    auto current = db_->prepare("SELECT config FROM models WHERE name = ?");
    current.bind(1, model);
    if (!current.step()) throw RegistryError(Code::kModelNotFound, "no model '" + model + "'");
    boost::system::error_code ec;
    boost::json::value config = boost::json::parse(current.column_text(0), ec);
    if (ec || !config.is_object()) config = boost::json::object{};
    boost::json::value section;
    if (!section_json.empty()) {
      section = boost::json::parse(section_json, ec);
      if (ec || !section.is_object()) {
        throw RegistryError(Code::kInvalidArgument, "'" + key + "' is a JSON object");
      }
      config.as_object()[key] = section;
    } else {
      config.as_object().erase(key);
    }
    current.reset();
    db_->prepare("UPDATE models SET config = ? WHERE name = ?")
        .bind(1, boost::json::serialize(config))
        .bind(2, model)
        .run();
    append_audit(actor, "model." + key, model,
                 boost::json::serialize(boost::json::object{{key, section}}));
    transaction.commit();
  }
  reload_catalog();
}

void Registry::audit_forced_promotion(const std::string& model, int64_t version,
                                      const std::string& details_json, const std::string& actor) {
  std::lock_guard lock(write_mutex_);
  sql::Transaction transaction(*db_);
  append_audit(actor, "version.promote_forced", model + "/" + std::to_string(version),
               details_json);
  transaction.commit();
}

}  // namespace mg::registry
