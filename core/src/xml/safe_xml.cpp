#include "xml/safe_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlsave.h>

#include <fstream>
#include <sstream>

namespace cb::xml {
namespace {

struct ParseState {
  bool doctype_seen = false;
  int doctype_line = 0;
};

// SAX hook: any <!DOCTYPE ...> stops the parser before an entity can be declared.
void refuseDoctype(void* ctx, const xmlChar*, const xmlChar*, const xmlChar*) {
  auto* ctxt = static_cast<xmlParserCtxtPtr>(ctx);
  auto* state = static_cast<ParseState*>(ctxt->_private);
  if (state != nullptr) {
    state->doctype_seen = true;
    state->doctype_line = ctxt->input != nullptr ? ctxt->input->line : 0;
  }
  xmlStopParser(ctxt);
}

// Errors are collected from the context afterwards, never printed.
void silentStructuredError(void*, xmlErrorPtr) {}

int depthOf(const xmlNode* node, int limit) {
  int deepest = 0;
  // Iterative walk keeps a hostile document from exhausting our own stack.
  const xmlNode* n = node;
  int depth = 0;
  while (n != nullptr) {
    if (n->type == XML_ELEMENT_NODE && depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    if (n->children != nullptr) {
      n = n->children;
      ++depth;
      continue;
    }
    while (n != nullptr && n->next == nullptr) {
      n = n->parent;
      --depth;
      if (n == nullptr || n->type == XML_DOCUMENT_NODE || depth < 0) return deepest;
    }
    if (n != nullptr) n = n->next;
  }
  return deepest;
}

std::string trimmed(const char* msg) {
  std::string s = msg != nullptr ? msg : "malformed XML";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Silences libxml2's default "print to stderr" handlers, which would echo raw
// (possibly personal, possibly non-UTF-8) bytes of a hostile document into the
// operational log. Callers read errors from their parser context instead.
// libxml2 keeps these handlers per thread: the xmlThrDef* calls set the
// default for threads created afterwards, the plain calls set this thread's.
void silentGenericError(void*, const char*, ...) {}

}  // namespace

void init() {
  xmlInitParser();
  xmlThrDefSetGenericErrorFunc(nullptr, silentGenericError);
  xmlThrDefSetStructuredErrorFunc(nullptr, silentStructuredError);
  xmlSetGenericErrorFunc(nullptr, silentGenericError);
  xmlSetStructuredErrorFunc(nullptr, silentStructuredError);
}



void DocDeleter::operator()(_xmlDoc* doc) const { xmlFreeDoc(doc); }

Result<DocPtr> parse(std::string_view bytes, std::string_view name, const ParseLimits& limits) {
  const std::string who(name);
  if (bytes.size() > limits.max_bytes) {
    return fail(who + ": refused: " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                std::to_string(limits.max_bytes));
  }
  if (bytes.empty()) return fail(who + ": refused: empty document");
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) return fail(who + ": refused: too large");

  xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
  if (ctxt == nullptr) return fail(who + ": out of memory creating XML parser");
  ParseState state;
  ctxt->_private = &state;
  ctxt->sax->internalSubset = refuseDoctype;
  ctxt->sax->externalSubset = refuseDoctype;
  ctxt->sax->serror = silentStructuredError;
  ctxt->sax->warning = nullptr;
  ctxt->sax->error = nullptr;
  ctxt->vctxt.error = nullptr;
  ctxt->vctxt.warning = nullptr;

  // No XML_PARSE_NOENT (entity substitution), DTDLOAD, DTDATTR or HUGE.
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
  xmlDocPtr raw = xmlCtxtReadMemory(ctxt, bytes.data(), static_cast<int>(bytes.size()), nullptr, nullptr, options);
  DocPtr doc(raw);

  if (state.doctype_seen) {
    xmlFreeParserCtxt(ctxt);
    return fail(who + ":" + std::to_string(state.doctype_line) +
                ": refused: document type declarations (DTDs, entities) are not accepted");
  }
  if (!doc || ctxt->wellFormed == 0) {
    const xmlError* err = xmlCtxtGetLastError(ctxt);
    std::string msg = who + ":" + std::to_string(err != nullptr ? err->line : 0) + ": " +
                      trimmed(err != nullptr ? err->message : nullptr);
    xmlFreeParserCtxt(ctxt);
    return fail(msg);
  }
  xmlFreeParserCtxt(ctxt);

  if (depthOf(xmlDocGetRootElement(doc.get()), limits.max_depth) > limits.max_depth) {
    return fail(who + ": refused: elements nested deeper than " + std::to_string(limits.max_depth));
  }
  return doc;
}

Result<DocPtr> parseFile(const std::string& path, const ParseLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot open for reading");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path, limits);
}

std::string serialize(const _xmlDoc* doc, bool declaration, bool indent) {
  xmlBufferPtr buf = xmlBufferCreate();
  int opts = 0;
  if (!declaration) opts |= XML_SAVE_NO_DECL;
  if (indent) opts |= XML_SAVE_FORMAT;
  xmlSaveCtxtPtr save = xmlSaveToBuffer(buf, "UTF-8", opts);
  xmlSaveDoc(save, const_cast<xmlDocPtr>(doc));
  xmlSaveClose(save);
  std::string out(reinterpret_cast<const char*>(xmlBufferContent(buf)), static_cast<std::size_t>(xmlBufferLength(buf)));
  xmlBufferFree(buf);
  return out;
}

}  // namespace cb::xml
