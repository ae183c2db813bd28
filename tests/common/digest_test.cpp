// SHA-256 and HMAC-SHA-256 (common/digest.h) against published vectors:
// FIPS 180-2 appendix B.1 ("abc"), the empty message, and RFC 4231
// sections 4.2, 4.3 and 4.7. The HMAC keeps a context per thread for the key
// it last used, so the tests also switch keys and run from several threads.

#include "common/digest.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace {

using cb::hmacSha256;
using cb::sha256;
using cb::toHex;

const std::string kKey1(20, '\x0b');  // RFC 4231 test case 1
const std::string kData1 = "Hi There";
const std::string kMac1 = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
const std::string kKey2 = "Jefe";  // RFC 4231 test case 2
const std::string kData2 = "what do ya want for nothing?";
const std::string kMac2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

TEST(DigestTest, Sha256OfKnownMessages) {
  EXPECT_EQ(toHex(sha256(std::string_view("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(toHex(sha256(std::string_view(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // One context per thread, reused: a second hash starts afresh.
  EXPECT_EQ(toHex(sha256(std::string_view("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, HmacSha256OfRfc4231Vectors) {
  EXPECT_EQ(toHex(hmacSha256(kKey1, kData1)), kMac1);
  EXPECT_EQ(toHex(hmacSha256(kKey2, kData2)), kMac2);
  // Test case 6: a key longer than SHA-256's 64-byte block is hashed first.
  EXPECT_EQ(toHex(hmacSha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(toHex(hmacSha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(DigestTest, HmacSha256SwitchingKeysAndRepeatingGivesTheSameMacs) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(toHex(hmacSha256(kKey1, kData1)), kMac1);
    EXPECT_EQ(toHex(hmacSha256(kKey1, kData1)), kMac1);
    EXPECT_EQ(toHex(hmacSha256(kKey2, kData2)), kMac2);
  }
  // A key that shares the first one's prefix is a different key.
  EXPECT_NE(toHex(hmacSha256(kKey1 + "x", kData1)), kMac1);
  EXPECT_EQ(toHex(hmacSha256(kKey1, kData1)), kMac1);
}

TEST(DigestTest, HmacSha256FromSeveralThreadsAtOnce) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&wrong, t] {
      for (int i = 0; i < 500; ++i) {
        const bool first = (i + t) % 3 != 0;
        const auto mac = toHex(first ? hmacSha256(kKey1, kData1) : hmacSha256(kKey2, kData2));
        if (mac != (first ? kMac1 : kMac2)) ++wrong;
        if (toHex(sha256(std::string_view("abc"))) !=
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
