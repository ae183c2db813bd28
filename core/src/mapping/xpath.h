#pragma once
// XPath 1.0 for mapping files: expressions are compiled once, when a mapping
// loads, and evaluated per record, possibly from several worker threads.
//
// Thread safety in libxml2 2.9.14 (read from xpath.c, xmlXPathCompOpEval):
// evaluating a compiled expression (xmlXPathCompExpr) only reads it, with one
// exception: the first time a function-call step runs, libxml2 writes the
// looked-up function pointer into the step (`op->cache`, `op->cacheURI`).
// Two threads doing that at once is a data race. So:
//   - expressions without a function call are evaluated without a lock;
//   - expressions with one are evaluated under a per-expression mutex
//     (other expressions still run in parallel);
//   - everything else that evaluation touches (xmlXPathContext, its object
//     cache, the parser context libxml2 creates per call) is per evaluation
//     and lives in XPathEvaluator, one per record and thread.
// Whether an expression calls a function is read from libxml2's own parse of
// it (xmlXPathDebugDumpCompExpr), not guessed from the text. The same dump is
// used at load to refuse unknown functions, variables and undeclared
// namespace prefixes, which libxml2 would only notice mid-record.

#include "common/result.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

struct _xmlDoc;
struct _xmlNode;
struct _xmlXPathCompExpr;
struct _xmlXPathContext;
struct _xmlXPathObject;

namespace cb::mapping {

/// Namespace prefix -> URI bindings visible to a mapping's expressions.
using NamespaceBindings = std::vector<std::pair<std::string, std::string>>;

/// One compiled, checked XPath expression. Immutable; share freely.
class XPathExpr {
 public:
  /// Compiles and checks `expression`. Only the 27 XPath 1.0 core functions
  /// are allowed, no variables, and every prefix must be in `ns`. The error
  /// says what is wrong (the caller adds file and line).
  static Result<std::shared_ptr<const XPathExpr>> compile(const std::string& expression, const NamespaceBindings& ns);
  ~XPathExpr();
  XPathExpr(const XPathExpr&) = delete;
  XPathExpr& operator=(const XPathExpr&) = delete;

  const std::string& text() const { return text_; }
  /// True if evaluation is serialised (the expression calls a function).
  bool serialised() const { return serialise_; }

  /// How many expressions this process has compiled so far. Lets tests show
  /// that applying a mapping compiles nothing.
  static std::uint64_t compilationCount();

 private:
  XPathExpr() = default;
  friend class XPathEvaluator;
  _xmlXPathCompExpr* comp_ = nullptr;
  std::string text_;
  bool serialise_ = false;
  mutable std::mutex mutex_;
};

/// Evaluates compiled expressions against one document. Owns a libxml2
/// XPath context; create one per record on the thread that uses it.
class XPathEvaluator {
 public:
  XPathEvaluator(const _xmlDoc* doc, const NamespaceBindings& ns);
  ~XPathEvaluator();
  XPathEvaluator(const XPathEvaluator&) = delete;
  XPathEvaluator& operator=(const XPathEvaluator&) = delete;

  /// Replaces the namespace bindings, so one evaluator (one libxml2 context,
  /// whose creation registers the whole function library) can serve every
  /// mapping tried against the same document.
  void rebind(const NamespaceBindings& ns);

  /// A node-set result. Refuses other result types and namespace nodes.
  Result<std::vector<_xmlNode*>> nodes(const XPathExpr& expr, const _xmlNode* context);
  /// Node-set: the string-value of each node, in document order (empty set:
  /// empty vector). Any other result: one string (XPath string()).
  Result<std::vector<std::string>> strings(const XPathExpr& expr, const _xmlNode* context);
  /// The XPath boolean() of the result.
  Result<bool> boolean(const XPathExpr& expr, const _xmlNode* context);

 private:
  Result<_xmlXPathObject*> evaluate(const XPathExpr& expr, const _xmlNode* context);
  _xmlXPathContext* ctxt_ = nullptr;
  std::string last_error_;
};

}  // namespace cb::mapping
