#include "mapping/xpath.h"

#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string_view>

namespace cb::mapping {
namespace {

std::atomic<std::uint64_t> g_compilations{0};

// XPath 1.0 core function library (W3C XPath 1.0 section 4).
constexpr std::array<std::string_view, 27> kCoreFunctions = {
    "last",        "position",         "count",     "id",           "local-name",    "namespace-uri",   "name",
    "string",      "concat",           "starts-with", "contains",   "substring-before", "substring-after", "substring",
    "string-length", "normalize-space", "translate", "boolean",      "not",           "true",            "false",
    "lang",        "number",           "sum",       "floor",        "ceiling",       "round"};

// A bound on the work one evaluation may do (libxml2 counts steps in
// opCount); mapping expressions are small, so hitting it means a pathological
// input or expression, and the record is refused instead of stalling a worker.
constexpr unsigned long kOpLimit = 20'000'000;

const xmlChar* bad(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }

void collectError(void* user, xmlErrorPtr err) {
  auto* out = static_cast<std::string*>(user);
  if (err == nullptr || !out->empty()) return;
  std::string msg = err->message != nullptr ? err->message : "XPath error";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  *out = msg;
}

// Reads libxml2's dump of a compiled expression. Lines look like
//   FUNCTION concat(3 args)
//   VARIABLE v
//   COLLECT  'child' 'name' 'node' r:Client
//   Streaming Expression            (a pattern: no functions, no predicates)
struct DumpFacts {
  bool calls_function = false;
  std::vector<std::string> functions;
  std::vector<std::string> variables;
  std::set<std::string> prefixes;
};

std::string dumpOf(xmlXPathCompExprPtr comp) {
  char* buf = nullptr;
  std::size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  if (f == nullptr) return {};
  xmlXPathDebugDumpCompExpr(f, comp, 0);
  std::fclose(f);
  std::string out(buf != nullptr ? buf : "", len);
  std::free(buf);
  return out;
}

DumpFacts readDump(const std::string& dump) {
  DumpFacts facts;
  std::istringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = line;
    while (!l.empty() && l.front() == ' ') l.remove_prefix(1);
    if (l.rfind("FUNCTION ", 0) == 0) {
      l.remove_prefix(9);
      facts.calls_function = true;
      facts.functions.emplace_back(l.substr(0, l.find('(')));
    } else if (l.rfind("VARIABLE ", 0) == 0) {
      l.remove_prefix(9);
      facts.variables.emplace_back(l);
    } else if (l.rfind("COLLECT ", 0) == 0) {
      // Four fields: 'axis' 'test' 'type' then the name test, if any.
      std::size_t quotes = 0, pos = 0;
      while (pos < l.size() && quotes < 6) {
        if (l[pos] == '\'') ++quotes;
        ++pos;
      }
      std::string_view test = l.substr(std::min(pos, l.size()));
      while (!test.empty() && test.front() == ' ') test.remove_prefix(1);
      const bool named = l.find("'name'") != std::string_view::npos || l.find("'all'") != std::string_view::npos;
      const auto colon = test.find(':');
      if (named && colon != std::string_view::npos) facts.prefixes.emplace(test.substr(0, colon));
    }
  }
  return facts;
}

}  // namespace

std::uint64_t XPathExpr::compilationCount() { return g_compilations.load(); }

XPathExpr::~XPathExpr() {
  if (comp_ != nullptr) xmlXPathFreeCompExpr(comp_);
}

Result<std::shared_ptr<const XPathExpr>> XPathExpr::compile(const std::string& expression, const NamespaceBindings& ns) {
  if (expression.empty()) return fail("empty XPath expression");
  // Compile with a context that knows the namespaces, so errors go to our
  // handler (not stderr) and libxml2's streaming patterns bind prefixes.
  xmlXPathContextPtr ctxt = xmlXPathNewContext(nullptr);
  if (ctxt == nullptr) return fail("out of memory compiling XPath");
  std::string error;
  ctxt->error = collectError;
  ctxt->userData = &error;
  for (const auto& [prefix, uri] : ns) xmlXPathRegisterNs(ctxt, bad(prefix), bad(uri));
  xmlXPathCompExprPtr comp = xmlXPathCtxtCompile(ctxt, bad(expression));
  xmlXPathFreeContext(ctxt);
  ++g_compilations;
  if (comp == nullptr) {
    return fail("XPath expression \"" + expression + "\" does not compile: " + (error.empty() ? "syntax error" : error));
  }
  std::shared_ptr<XPathExpr> e(new XPathExpr());
  e->comp_ = comp;
  e->text_ = expression;

  const DumpFacts facts = readDump(dumpOf(comp));
  if (!facts.variables.empty()) {
    return fail("XPath expression \"" + expression + "\" uses variable $" + facts.variables.front() +
                "; mapping expressions have no variables");
  }
  for (const auto& f : facts.functions) {
    if (std::find(kCoreFunctions.begin(), kCoreFunctions.end(), f) == kCoreFunctions.end()) {
      return fail("XPath expression \"" + expression + "\" calls " + f +
                  "(), which is not an XPath 1.0 core function");
    }
  }
  for (const auto& p : facts.prefixes) {
    const bool declared = std::any_of(ns.begin(), ns.end(), [&](const auto& b) { return b.first == p; });
    if (!declared) {
      return fail("XPath expression \"" + expression + "\" uses namespace prefix '" + p +
                  "', which is not declared (add <namespace prefix=\"" + p + "\" uri=\"...\"/>)");
    }
  }
  e->serialise_ = facts.calls_function;
  return std::shared_ptr<const XPathExpr>(std::move(e));
}

XPathEvaluator::XPathEvaluator(const _xmlDoc* doc, const NamespaceBindings& ns) {
  ctxt_ = xmlXPathNewContext(const_cast<xmlDocPtr>(doc));
  if (ctxt_ == nullptr) return;
  ctxt_->error = collectError;
  ctxt_->userData = &last_error_;
  for (const auto& [prefix, uri] : ns) xmlXPathRegisterNs(ctxt_, bad(prefix), bad(uri));
  ctxt_->opLimit = kOpLimit;
}

void XPathEvaluator::rebind(const NamespaceBindings& ns) {
  if (ctxt_ == nullptr) return;
  xmlXPathRegisteredNsCleanup(ctxt_);
  for (const auto& [prefix, uri] : ns) xmlXPathRegisterNs(ctxt_, bad(prefix), bad(uri));
}

XPathEvaluator::~XPathEvaluator() {
  if (ctxt_ != nullptr) xmlXPathFreeContext(ctxt_);
}

Result<xmlXPathObjectPtr> XPathEvaluator::evaluate(const XPathExpr& expr, const xmlNode* context) {
  if (ctxt_ == nullptr) return fail("out of memory creating an XPath context");
  last_error_.clear();
  ctxt_->node = const_cast<xmlNodePtr>(context);
  ctxt_->opCount = 0;
  xmlXPathObjectPtr obj = nullptr;
  if (expr.serialise_) {
    std::lock_guard<std::mutex> lock(expr.mutex_);
    obj = xmlXPathCompiledEval(expr.comp_, ctxt_);
  } else {
    obj = xmlXPathCompiledEval(expr.comp_, ctxt_);
  }
  if (obj == nullptr) {
    return fail("XPath expression \"" + expr.text_ + "\" failed: " +
                (last_error_.empty() ? std::string("evaluation error") : last_error_));
  }
  return obj;
}

Result<std::vector<xmlNode*>> XPathEvaluator::nodes(const XPathExpr& expr, const xmlNode* context) {
  auto r = evaluate(expr, context);
  if (!r) return r.error();
  xmlXPathObjectPtr obj = *r;
  std::vector<xmlNode*> out;
  if (obj->type != XPATH_NODESET) {
    xmlXPathFreeObject(obj);
    return fail("XPath expression \"" + expr.text() + "\" must select nodes, but it gives a string, number or boolean");
  }
  if (obj->nodesetval != nullptr) {
    for (int i = 0; i < obj->nodesetval->nodeNr; ++i) {
      xmlNodePtr n = obj->nodesetval->nodeTab[i];
      // Namespace nodes in a result are copies freed with the result object.
      if (n->type == XML_NAMESPACE_DECL) {
        xmlXPathFreeObject(obj);
        return fail("XPath expression \"" + expr.text() + "\" selects namespace nodes, which cannot be mapped");
      }
      out.push_back(n);
    }
  }
  xmlXPathFreeObject(obj);
  return out;
}

Result<std::vector<std::string>> XPathEvaluator::strings(const XPathExpr& expr, const xmlNode* context) {
  auto r = evaluate(expr, context);
  if (!r) return r.error();
  xmlXPathObjectPtr obj = *r;
  std::vector<std::string> out;
  auto take = [&](xmlChar* s) {
    out.emplace_back(s != nullptr ? reinterpret_cast<const char*>(s) : "");
    xmlFree(s);
  };
  if (obj->type == XPATH_NODESET) {
    if (obj->nodesetval != nullptr) {
      for (int i = 0; i < obj->nodesetval->nodeNr; ++i) take(xmlXPathCastNodeToString(obj->nodesetval->nodeTab[i]));
    }
  } else {
    take(xmlXPathCastToString(obj));
  }
  xmlXPathFreeObject(obj);
  return out;
}

Result<bool> XPathEvaluator::boolean(const XPathExpr& expr, const xmlNode* context) {
  auto r = evaluate(expr, context);
  if (!r) return r.error();
  const bool b = xmlXPathCastToBoolean(*r) != 0;
  xmlXPathFreeObject(*r);
  return b;
}

}  // namespace cb::mapping
