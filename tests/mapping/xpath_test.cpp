// Compiled XPath: load-time checks, evaluation, and evaluation of shared
// compiled expressions from several threads.

#include "mapping/xpath.h"
#include "mapping_test_support.h"

#include <gtest/gtest.h>

#include <thread>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

const NamespaceBindings kNs = {{"s", "urn:test:source"}};

TEST(XPath, CompileChecks) {
  auto syntax = XPathExpr::compile("s:a[", kNs);
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().message.find("does not compile"), std::string::npos) << syntax.error().message;

  auto fn = XPathExpr::compile("upper-case(s:a)", kNs);
  ASSERT_FALSE(fn);
  EXPECT_NE(fn.error().message.find("upper-case(), which is not an XPath 1.0 core function"), std::string::npos)
      << fn.error().message;

  auto ext = XPathExpr::compile("exsl:node-set(s:a)", {{"s", "urn:test:source"}, {"exsl", "http://exslt.org/common"}});
  ASSERT_FALSE(ext);

  auto var = XPathExpr::compile("$x = 1", kNs);
  ASSERT_FALSE(var);
  EXPECT_NE(var.error().message.find("variable $x"), std::string::npos) << var.error().message;

  auto prefix = XPathExpr::compile("s:a/t:b", kNs);
  ASSERT_FALSE(prefix);
  EXPECT_NE(prefix.error().message.find("prefix 't'"), std::string::npos) << prefix.error().message;
  // Prefixes inside predicates and attribute steps are checked too, and a
  // prefix-like string literal is not mistaken for one.
  EXPECT_FALSE(XPathExpr::compile("s:a[q:b = 1]", kNs));
  EXPECT_FALSE(XPathExpr::compile("s:a/@q:b", kNs));
  EXPECT_FALSE(XPathExpr::compile("q:*", kNs));
  EXPECT_TRUE(XPathExpr::compile("s:a[. = 'q:b']", kNs));
  EXPECT_FALSE(XPathExpr::compile("", kNs));
}

TEST(XPath, FunctionCallsAreSerialised) {
  EXPECT_FALSE((*XPathExpr::compile("s:a/s:b", kNs))->serialised());
  EXPECT_FALSE((*XPathExpr::compile("s:a | s:b", kNs))->serialised());
  EXPECT_FALSE((*XPathExpr::compile("s:a[@x = '1']/text()", kNs))->serialised());
  EXPECT_TRUE((*XPathExpr::compile("normalize-space(s:a)", kNs))->serialised());
  EXPECT_TRUE((*XPathExpr::compile("s:a[last()]", kNs))->serialised());
}

TEST(XPath, CompilationCounter) {
  const auto before = XPathExpr::compilationCount();
  ASSERT_TRUE(XPathExpr::compile("s:a", kNs));
  EXPECT_EQ(XPathExpr::compilationCount(), before + 1);
}

TEST(XPath, Evaluation) {
  auto doc = test::parseOrDie(
      "<Doc xmlns='urn:test:source'><a>one</a><a> two </a><b x='7'/></Doc>");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  XPathEvaluator xp(doc.get(), kNs);
  auto strings = xp.strings(**XPathExpr::compile("s:a", kNs), root);
  ASSERT_TRUE(strings);
  EXPECT_EQ(*strings, (std::vector<std::string>{"one", " two "}));
  EXPECT_EQ(*xp.strings(**XPathExpr::compile("count(s:a)", kNs), root), std::vector<std::string>{"2"});
  EXPECT_EQ(*xp.strings(**XPathExpr::compile("s:b/@x", kNs), root), std::vector<std::string>{"7"});
  EXPECT_TRUE(xp.strings(**XPathExpr::compile("s:none", kNs), root)->empty());
  EXPECT_TRUE(*xp.boolean(**XPathExpr::compile("s:b/@x = 7", kNs), root));
  EXPECT_FALSE(*xp.boolean(**XPathExpr::compile("s:none", kNs), root));
  auto nodes = xp.nodes(**XPathExpr::compile("s:a", kNs), root);
  ASSERT_TRUE(nodes);
  EXPECT_EQ(nodes->size(), 2u);
  auto not_nodes = xp.nodes(**XPathExpr::compile("string(s:a)", kNs), root);
  ASSERT_FALSE(not_nodes);
  EXPECT_NE(not_nodes.error().message.find("must select nodes"), std::string::npos);
  EXPECT_FALSE(xp.nodes(**XPathExpr::compile("namespace::*", kNs), root));
  // Context node matters.
  const xmlNode* b = (*nodes)[0]->parent->last;
  EXPECT_EQ(*xp.strings(**XPathExpr::compile("@x", kNs), b), std::vector<std::string>{"7"});
}

TEST(XPath, SharedExpressionsFromFourThreads) {
  // Function-call expressions are the ones libxml2 writes into on first use.
  std::vector<std::shared_ptr<const XPathExpr>> exprs;
  for (const char* e : {"concat(s:a[1], '-', normalize-space(s:a[2]))", "count(s:a) + string-length(s:b/@x)",
                        "translate(s:a[1], 'o', '0')", "s:a[last()]", "substring-after(s:b/@x, '')"}) {
    exprs.push_back(*XPathExpr::compile(e, kNs));
  }
  auto doc = test::parseOrDie("<Doc xmlns='urn:test:source'><a>one</a><a> two </a><b x='7'/></Doc>");
  const std::vector<std::string> expected = {"one-two", "3", "0ne", " two ", "7"};
  std::vector<std::thread> threads;
  std::vector<int> wrong(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Each thread has its own document and evaluator, as workers do.
      auto own = test::parseOrDie("<Doc xmlns='urn:test:source'><a>one</a><a> two </a><b x='7'/></Doc>");
      XPathEvaluator xp(own.get(), kNs);
      const xmlNode* root = xmlDocGetRootElement(own.get());
      for (int i = 0; i < 2000; ++i) {
        for (std::size_t k = 0; k < exprs.size(); ++k) {
          auto r = xp.strings(*exprs[k], root);
          if (!r || r->size() != 1 || r->front() != expected[k]) ++wrong[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int w : wrong) EXPECT_EQ(w, 0);
}

}  // namespace
}  // namespace cb::mapping
