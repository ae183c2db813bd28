#include "xml/schema.h"

#include <libxml/xmlschemas.h>

#include <mutex>
#include <vector>

namespace cb::xml {

struct Schema::Impl {
  xmlSchemaPtr schema = nullptr;
  ~Impl() {
    if (schema != nullptr) xmlSchemaFree(schema);
  }
};

namespace {

struct ErrorList {
  std::string name;
  std::vector<std::string> lines;
};

void collect(void* ctx, xmlErrorPtr err) {
  auto* list = static_cast<ErrorList*>(ctx);
  if (err == nullptr || list->lines.size() >= 20) return;
  std::string msg = err->message != nullptr ? err->message : "invalid";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  list->lines.push_back(list->name + ":" + std::to_string(err->line) + ": " + msg);
}

std::string joined(const ErrorList& list) {
  std::string out;
  for (const auto& l : list.lines) {
    if (!out.empty()) out += "\n";
    out += l;
  }
  return out.empty() ? list.name + ": invalid" : out;
}

}  // namespace

Schema::~Schema() = default;

Result<std::shared_ptr<const Schema>> Schema::load(const std::string& xsd_path) {
  ErrorList errors{xsd_path, {}};
  xmlSchemaParserCtxtPtr pctxt = xmlSchemaNewParserCtxt(xsd_path.c_str());
  if (pctxt == nullptr) return fail(xsd_path + ": cannot read schema");
  xmlSchemaSetParserStructuredErrors(pctxt, collect, &errors);
  xmlSchemaPtr compiled = xmlSchemaParse(pctxt);
  xmlSchemaFreeParserCtxt(pctxt);
  if (compiled == nullptr) return fail(joined(errors));
  std::shared_ptr<Schema> s(new Schema());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->schema = compiled;
  s->path_ = xsd_path;
  return std::shared_ptr<const Schema>(std::move(s));
}

Status Schema::validate(const _xmlDoc* doc, const std::string& doc_name) const {
  ErrorList errors{doc_name, {}};
  // A validation context is cheap and not thread-safe; one per call.
  xmlSchemaValidCtxtPtr vctxt = xmlSchemaNewValidCtxt(impl_->schema);
  if (vctxt == nullptr) return fail(doc_name + ": out of memory validating against " + path_);
  xmlSchemaSetValidStructuredErrors(vctxt, collect, &errors);
  const int rc = xmlSchemaValidateDoc(vctxt, const_cast<xmlDocPtr>(doc));
  xmlSchemaFreeValidCtxt(vctxt);
  if (rc != 0) return fail(joined(errors));
  return {};
}

}  // namespace cb::xml
