#include "vaultd/common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace vaultd {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vaultd-fs-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    DIR* d = opendir(path_.c_str());
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    closedir(d);
    return out;
  }

 private:
  std::string path_;
};

TEST(AtomicWriteTest, WritesNewFileWithRequestedMode) {
  TempDir dir;
  std::string p = dir.path() + "/note.md";
  ASSERT_TRUE(WriteFileAtomic(p, "hello", {.mode = 0600}).ok());
  auto content = ReadFile(p);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, "hello");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(dir.Entries().size(), 1u);
}

// Every step of the write fails in turn; whatever step fails, the old content
// survives intact and no temp file is left behind.
TEST(AtomicWriteTest, FailureAtAnyStepBeforeRenameKeepsOldContent) {
  TempDir dir;
  std::string p = dir.path() + "/note.md";
  ASSERT_TRUE(WriteFileAtomic(p, "old content").ok());
  // open, write, fsync, close, rename are steps 0..4; step 5 (dir fsync) is after the commit.
  for (int step = 0; step <= 4; ++step) {
    FaultInjectionFs fs(RealFs(), step);
    Status s = WriteFileAtomic(p, "NEW CONTENT THAT MUST NOT APPEAR", {}, fs);
    EXPECT_FALSE(s.ok()) << "step " << step;
    EXPECT_EQ(*ReadFile(p), "old content") << "step " << step;
    EXPECT_EQ(dir.Entries(), std::vector<std::string>{"note.md"}) << "step " << step;
  }
}

// A real crash: the child process dies (_exit, no cleanup) just before the
// rename. The old content must still be there, complete.
TEST(AtomicWriteTest, ProcessKilledBeforeRenameLeavesOldContentIntact) {
  TempDir dir;
  std::string p = dir.path() + "/note.md";
  ASSERT_TRUE(WriteFileAtomic(p, "old content").ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    FaultInjectionFs fs(RealFs(), /*fail_at=*/4, [](int, std::string_view op) {
      if (op == "rename") _exit(77);
    });
    (void)WriteFileAtomic(p, std::string(1 << 20, 'x'), {}, fs);
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 77) << "the child should have died at the rename";
  EXPECT_EQ(*ReadFile(p), "old content");
}

TEST(AtomicWriteTest, ReplacesExistingContent) {
  TempDir dir;
  std::string p = dir.path() + "/a";
  ASSERT_TRUE(WriteFileAtomic(p, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(p, "two").ok());
  EXPECT_EQ(*ReadFile(p), "two");
}

TEST(AtomicWriteTest, MissingDirectoryNamesThePath) {
  Status s = WriteFileAtomic("/nonexistent-vaultd-dir/x.md", "x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent-vaultd-dir/x.md"), std::string::npos) << s.message();
}

TEST(ReadFileTest, RefusesFilesOverTheLimit) {
  TempDir dir;
  std::string p = dir.path() + "/big";
  ASSERT_TRUE(WriteFileAtomic(p, std::string(1000, 'a')).ok());
  EXPECT_TRUE(ReadFile(p, 1000).ok());
  auto r = ReadFile(p, 999);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST(ReadChunksTest, HandsOverEveryByteAndStopsAtTheFirstError) {
  TempDir dir;
  std::string p = dir.path() + "/data";
  std::string data;
  for (int i = 0; i < 200000; ++i) data += static_cast<char>('a' + i % 26);
  ASSERT_TRUE(WriteFileAtomic(p, data).ok());
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string read;
  size_t chunks = 0;
  EXPECT_TRUE(ReadChunks(fd, p, [&](std::string_view chunk) {
                ++chunks;
                EXPECT_LE(chunk.size(), 65536u);
                read.append(chunk);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(read, data);
  EXPECT_GE(chunks, 4u);

  ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  chunks = 0;
  Status stop = ReadChunks(fd, p, [&](std::string_view) {
    ++chunks;
    return Status::InvalidArgument("enough");
  });
  EXPECT_EQ(stop.message(), "enough");
  EXPECT_EQ(chunks, 1u);
  ::close(fd);

  int dir_fd = ::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir_fd, 0);
  Status failed = ReadChunks(dir_fd, dir.path(), [](std::string_view) { return Status::Ok(); });
  ::close(dir_fd);
  EXPECT_FALSE(failed.ok());
  EXPECT_NE(failed.message().find("read " + dir.path()), std::string::npos) << failed.message();
}

TEST(PathTest, SafeSegmentsAndRelativePaths) {
  EXPECT_TRUE(IsSafePathSegment("alice"));
  EXPECT_TRUE(IsSafePathSegment("a.b-c_d"));
  EXPECT_FALSE(IsSafePathSegment(""));
  EXPECT_FALSE(IsSafePathSegment("."));
  EXPECT_FALSE(IsSafePathSegment(".."));
  EXPECT_FALSE(IsSafePathSegment("../x"));
  EXPECT_FALSE(IsSafePathSegment("a/b"));
  EXPECT_FALSE(IsSafePathSegment(std::string("a\0b", 3)));
  EXPECT_FALSE(IsSafePathSegment(std::string(256, 'a')));
  EXPECT_TRUE(IsSafeRelativePath("deals/acme"));
  EXPECT_FALSE(IsSafeRelativePath("/abs"));
  EXPECT_FALSE(IsSafeRelativePath("a/../b"));
  EXPECT_FALSE(IsSafeRelativePath("a//b"));
  EXPECT_FALSE(IsSafeRelativePath("a/"));
  EXPECT_EQ(DirName("/a/b/c"), "/a/b");
  EXPECT_EQ(DirName("/a"), "/");
  EXPECT_EQ(DirName("c"), ".");
}

}  // namespace
}  // namespace vaultd
