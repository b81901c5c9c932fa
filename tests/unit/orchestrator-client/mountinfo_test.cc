#include "vaultd/orchestrator_client/mountinfo.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "forked_child.h"

namespace vaultd::orchestrator_client {
namespace {

// Lines as a Kasm container shows them (captured from real systems; paths with
// a space, a tab, a newline and a backslash show the kernel's octal escapes).
constexpr const char* kSample =
    "22 1 0:21 / / rw,relatime master:1 - overlay overlay "
    "rw,lowerdir=/var/lib/docker/l/A:/var/lib/docker/l/B\n"
    "23 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "63 22 0:39 / /vault rw,relatime - tmpfs tmpfs rw,size=65536k\n"
    "64 63 254:0 /shared/engineering /vault/engineering rw,relatime - ext4 /dev/vda rw,discard\n"
    "65 63 254:0 /shared/wiki /vault/wiki ro,relatime - ext4 /dev/vda rw,discard\n"
    "66 63 254:0 /shared/my\\040notes /vault/my\\040notes rw,relatime shared:7 master:3 - ext4 "
    "/dev/vda rw\n"
    "67 63 254:0 /odd/a\\011b\\012c\\134d /vault/odd rw,relatime - ext4 /dev/vda rw\n"
    "68 63 0:40 / /vault/scratch rw,relatime - tmpfs none ro\n";

MountSetDoc Doc(std::vector<std::pair<std::string, std::string>> targets_modes) {
  MountSetDoc d;
  d.vault_root = "/vault";
  for (auto& [t, m] : targets_modes) {
    MountEntry e;
    e.name = t;
    e.target = t;
    e.mode = m;
    e.room = t;
    e.source = "/shared/" + t;
    d.mounts.push_back(e);
  }
  return d;
}

TEST(MountInfo, ParsesRealLinesWithEscapesAndOptionalFields) {
  auto r = ParseMountInfo(kSample);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 8u);
  const auto& notes = (*r)[5];
  EXPECT_EQ(notes.mount_id, 66);
  EXPECT_EQ(notes.parent_id, 63);
  EXPECT_EQ(notes.root, "/shared/my notes");
  EXPECT_EQ(notes.mount_point, "/vault/my notes");
  EXPECT_EQ(notes.optional_fields, (std::vector<std::string>{"shared:7", "master:3"}));
  EXPECT_EQ(notes.fs_type, "ext4");
  EXPECT_EQ(notes.source, "/dev/vda");
  EXPECT_FALSE(notes.read_only());
  EXPECT_EQ((*r)[6].root, "/odd/a\tb\nc\\d");
  EXPECT_FALSE((*r)[3].read_only());
  EXPECT_TRUE((*r)[4].read_only());  // per-mount ro (bind remount)
  EXPECT_TRUE((*r)[7].read_only());  // super block ro
  EXPECT_EQ((*r)[0].optional_fields, (std::vector<std::string>{"master:1"}));
}

TEST(MountInfo, UnescapeLeavesNonEscapesAlone) {
  EXPECT_EQ(UnescapeMountField("a\\040b"), "a b");
  EXPECT_EQ(UnescapeMountField("\\134\\134"), "\\\\");
  EXPECT_EQ(UnescapeMountField("a\\04"), "a\\04");    // too short
  EXPECT_EQ(UnescapeMountField("a\\089"), "a\\089");  // not octal
  EXPECT_EQ(UnescapeMountField("\\"), "\\");
  EXPECT_EQ(UnescapeMountField("\\777"), "\\777");  // > 0xff
}

TEST(MountInfo, ErrorsNameTheLine) {
  auto r = ParseMountInfo("23 22 0:22 / /proc rw - proc proc rw\n24 23 0:1 / /x rw proc\n", "mi");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "mi:2: expected at least 10 fields with a ' - ' separator");
  EXPECT_FALSE(ParseMountInfo("x 22 0:22 / /proc rw - proc proc rw\n").ok());
  EXPECT_FALSE(ParseMountInfo("1 2 0:22 / relative rw - proc proc rw\n").ok());
  EXPECT_FALSE(ParseMountInfo("1 2 0:22 / /p rw - proc proc rw extra\n").ok());
  EXPECT_TRUE(ParseMountInfo("").value().empty());
}

TEST(MountInfo, CompareFindsMissingModeMismatchAndUnexpected) {
  auto mounts = ParseMountInfo(kSample).value();
  auto findings = CompareMounts(
      Doc({{"engineering", "rw"}, {"wiki", "rw"}, {"my notes", "ro"}, {"hr", "ro"}}), mounts);
  std::vector<std::string> got;
  for (const auto& f : findings)
    got.push_back(std::string(FindingKindName(f.kind)) + " " + f.path + " " + f.actual);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "missing /vault/hr absent",
                     "mode-mismatch /vault/my notes rw",
                     "unexpected /vault/odd rw",
                     "unexpected /vault/scratch ro",
                     "mode-mismatch /vault/wiki ro",
                 }));
  EXPECT_NE(findings[1].message.find("more access than granted"), std::string::npos);
  EXPECT_NE(findings[4].message.find("cannot write"), std::string::npos);
  // Everything right: no findings.
  MountSetDoc right = Doc({{"engineering", "rw"},
                           {"wiki", "ro"},
                           {"my notes", "rw"},
                           {"odd", "rw"},
                           {"scratch", "ro"}});
  right.mounts[3].source = "/odd/a\tb\nc\\d";  // the root mountinfo shows for it
  EXPECT_TRUE(CompareMounts(right, mounts).empty());
}

TEST(MountInfo, LaterMountOnTheSamePointWins) {
  auto mounts = ParseMountInfo(
                    "63 22 0:39 / /vault rw - tmpfs tmpfs rw\n"
                    "64 63 254:0 /a /vault/x rw - ext4 /dev/vda rw\n"
                    "65 64 254:0 /a /vault/x ro - ext4 /dev/vda rw\n")
                    .value();
  MountSetDoc doc = Doc({{"x", "rw"}});
  doc.mounts[0].source = "/a";
  auto f = CompareMounts(doc, mounts);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, Finding::Kind::kModeMismatch);
}

TEST(MountInfo, PatternADiscovery) {
  auto found = DiscoverMounts(ParseMountInfo(kSample).value(), "/vault/");
  std::vector<std::string> got;
  for (const auto& e : found) got.push_back(e.name + ":" + e.mode + ":" + e.source);
  EXPECT_EQ(got, (std::vector<std::string>{"engineering:rw:/shared/engineering",
                                           "my notes:rw:/shared/my notes", "odd:rw:/odd/a\tb\nc\\d",
                                           "scratch:ro:/", "wiki:ro:/shared/wiki"}));
}

TEST(MountInfo, PatternADiscoveryTakesNestedTargetsButNotMountsInsideAFolder) {
  auto mounts = ParseMountInfo(
                    "63 22 0:39 / /vault rw - tmpfs tmpfs rw\n"
                    "64 63 254:0 /shared/deals/acme /vault/deals/acme rw - ext4 /dev/vda rw\n"
                    "65 63 254:0 /shared/eng /vault/eng rw - ext4 /dev/vda rw\n"
                    "66 65 254:0 /shared/other /vault/eng/inner ro - ext4 /dev/vda rw\n"
                    "67 63 254:0 /shared/x /vault/eng\\040x ro - ext4 /dev/vda rw\n"
                    "68 63 254:0 /shared/y /vault/eng\\040x/deeper ro - ext4 /dev/vda rw\n")
                    .value();
  std::vector<std::string> got;
  for (const auto& e : DiscoverMounts(mounts, "/vault"))
    got.push_back(e.name + ":" + e.target + ":" + e.room + ":" + e.mode);
  EXPECT_EQ(got, (std::vector<std::string>{"deals-acme:deals/acme:deals-acme:rw", "eng:eng:eng:rw",
                                           "eng x:eng x:eng x:ro"}));
}

TEST(MountInfo, AMountFromAnotherSourceIsReported) {
  auto mounts = ParseMountInfo(
                    "63 22 0:39 / /vault rw - tmpfs tmpfs rw\n"
                    "64 63 254:0 /shared/engineering /vault/engineering rw - ext4 /dev/vda rw\n"
                    "65 63 254:1 /wiki /vault/wiki ro - ext4 /dev/vdb rw\n"
                    "66 63 254:1 /other /vault/x rw - ext4 /dev/vdb rw\n"
                    "67 63 0:40 / /vault/whole rw - tmpfs none rw\n")
                    .value();
  // /shared/wiki on a file system mounted at /shared shows root /wiki: a tail, fine.
  auto f = CompareMounts(Doc({{"engineering", "rw"}, {"wiki", "ro"}, {"x", "rw"}, {"whole", "rw"}}),
                         mounts);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].kind, Finding::Kind::kWrongSource);
  EXPECT_EQ(f[0].path, "/vault/x");
  EXPECT_EQ(f[0].expected, "/shared/x");
  EXPECT_EQ(f[0].actual, "/other");
  EXPECT_EQ(FindingKindName(f[0].kind), "wrong-source");
}

// A real mount namespace: a tmpfs vault root, bind mounts (one with a space in
// its name), one remounted read-only, then what the kernel reports is compared
// with a mount set. Runs in a forked child so the parent's namespace is untouched.
TEST(MountInfo, RealMountNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for unshare(CLONE_NEWNS)";
  const std::string base =
      std::filesystem::temp_directory_path() / ("mi-ns-" + std::to_string(::getpid()));
  std::filesystem::create_directories(base + "/src/eng");
  std::filesystem::create_directories(base + "/src/wiki");
  std::filesystem::create_directories(base + "/src/my notes");
  std::filesystem::create_directories(base + "/vault");
  test_util::ChildOutput child = test_util::RunInForkedChild([&](int out_fd) {
    auto fail = [&](const char* what) {
      test_util::WriteAll(out_fd, std::string("ERR ") + what + ": " + strerror(errno));
      ::_exit(1);
    };
    if (::unshare(CLONE_NEWNS) != 0) fail("unshare");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail("make-private");
    const std::string v = base + "/vault";
    if (::mount("vaulttmp", v.c_str(), "tmpfs", 0, "size=1m") != 0) fail("tmpfs");
    for (const char* d : {"eng", "wiki", "my notes", "extra"}) ::mkdir((v + "/" + d).c_str(), 0755);
    auto bind = [&](const std::string& from, const std::string& to) {
      if (::mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) != 0) fail("bind");
    };
    bind(base + "/src/eng", v + "/eng");
    bind(base + "/src/wiki", v + "/wiki");
    bind(base + "/src/my notes", v + "/my notes");
    bind(base + "/src/eng", v + "/extra");
    if (::mount(nullptr, (v + "/wiki").c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY,
                nullptr) != 0)
      fail("remount ro");
    auto mounts = ReadMountInfo();
    if (!mounts.ok()) fail("read mountinfo");
    MountSetDoc doc = Doc({{"eng", "rw"}, {"wiki", "ro"}, {"my notes", "ro"}, {"missing", "rw"}});
    for (auto& m : doc.mounts) m.source = base + "/src/" + m.target;
    nlohmann::json out;
    for (const auto& f : CompareMounts(doc, *mounts, v))
      out["findings"].push_back(std::string(FindingKindName(f.kind)) + " " +
                                f.path.substr(v.size()) + " " + f.actual);
    for (const auto& e : DiscoverMounts(*mounts, v))
      out["discovered"].push_back(e.name + ":" + e.mode + ":" +
                                  e.source.substr(e.source.rfind('/')));
    test_util::WriteAll(out_fd, out.dump());
  });
  std::filesystem::remove_all(base);
  ASSERT_TRUE(child.exited_ok) << child.text;
  auto out = nlohmann::json::parse(child.text);
  EXPECT_EQ(out["findings"], nlohmann::json({"unexpected /extra rw", "missing /missing absent",
                                             "mode-mismatch /my notes rw"}));
  EXPECT_EQ(out["discovered"], nlohmann::json({"eng:rw:/eng", "extra:rw:/eng",
                                               "my notes:rw:/my notes", "wiki:ro:/wiki"}));
}

}  // namespace
}  // namespace vaultd::orchestrator_client
