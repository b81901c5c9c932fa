#include "shim_test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <stdexcept>

#include "vaultd/common/sha256.h"

namespace vaultd::shimtest {

namespace {
void Check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}
}  // namespace

std::string EnterPrivateMountNamespace() {
  static std::string result = [] {
    if (unshare(CLONE_NEWNS) != 0) {
      return std::string("unshare(CLONE_NEWNS): ") + std::strerror(errno) + " (tests need root)";
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("mount --make-rprivate /: ") + std::strerror(errno);
    }
    return std::string();
  }();
  return result;
}

Sandbox::Sandbox() {
  char tmpl[] = "/tmp/vaultd-shim-XXXXXX";
  Check(mkdtemp(tmpl) != nullptr, "mkdtemp");
  root_ = tmpl;
}

Sandbox::~Sandbox() {
  for (auto it = mounts_.rbegin(); it != mounts_.rend(); ++it) umount2(it->c_str(), MNT_DETACH);
  std::string cmd = "rm -rf '" + root_ + "'";
  if (std::system(cmd.c_str()) != 0) {
    // Leftovers in /tmp are harmless; the mounts are gone with the namespace.
  }
}

std::string Sandbox::MountTmpfs(const std::string& rel, const std::string& options) {
  std::string p = Path(rel);
  MakeDirs(p);
  Check(mount("tmpfs", p.c_str(), "tmpfs", 0, options.c_str()) == 0, "mount tmpfs " + p);
  mounts_.push_back(p);
  return p;
}

std::string Sandbox::MountImage(const std::string& image, const std::string& type,
                                const std::string& rel) {
  std::string p = Path(rel);
  MakeDirs(p);
  std::string cmd = "mount -t " + type + " -o loop '" + image + "' '" + p + "'";
  Check(std::system(cmd.c_str()) == 0, cmd);
  mounts_.push_back(p);
  return p;
}

std::string Sandbox::Bind(const std::string& from, const std::string& to) {
  std::string f = Path(from), t = Path(to);
  MakeDirs(t);
  Check(mount(f.c_str(), t.c_str(), nullptr, MS_BIND, nullptr) == 0, "bind " + f + " " + t);
  mounts_.push_back(t);
  return t;
}

void Sandbox::RemountReadOnly(const std::string& rel) {
  std::string p = Path(rel);
  Check(mount(nullptr, p.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0,
        "remount,bind,ro " + p);
}

namespace {
// The processes Spawn() started and Wait() has not collected yet, by pid.
std::map<pid_t, std::unique_ptr<vaultd::testing::Process>>& Spawned() {
  static std::map<pid_t, std::unique_ptr<vaultd::testing::Process>> spawned;
  return spawned;
}

}  // namespace

void TwoMountsTest::SetUp() {
  std::string why = EnterPrivateMountNamespace();
  if (!why.empty()) GTEST_SKIP() << why;
  box_ = std::make_unique<Sandbox>();
  vault_ = box_->Path("vault");
  a_ = box_->MountTmpfs("vault/a");
  b_ = box_->MountTmpfs("vault/b");
  journal_ = box_->Path("state/journal");
  MakeDirs(journal_);
}

pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  auto process = std::make_unique<vaultd::testing::Process>();
  Check(process->Start(argv, {.env = env}), "start " + argv[0]);
  const pid_t pid = process->pid();
  Spawned()[pid] = std::move(process);
  return pid;
}

ProcResult Wait(pid_t pid, int timeout_s) {
  auto it = Spawned().find(pid);
  if (it == Spawned().end()) {
    ProcResult unknown;
    unknown.err = "pid " + std::to_string(pid) + " was not started by Spawn()\n";
    return unknown;
  }
  ProcResult r = it->second->Finish(std::chrono::seconds(timeout_s));
  Spawned().erase(it);
  return r;
}

ProcResult RunProc(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                   int timeout_s) {
  return Wait(Spawn(argv, env), timeout_s);
}

namespace {
void DescribeInto(const std::string& root, const std::string& rel, std::vector<std::string>* out) {
  std::string p = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  if (lstat(p.c_str(), &st) != 0) return;
  std::ostringstream line;
  line << (rel.empty() ? "." : rel) << " ";
  char type = S_ISREG(st.st_mode)   ? 'f'
              : S_ISDIR(st.st_mode) ? 'd'
              : S_ISLNK(st.st_mode) ? 'l'
                                    : 'o';
  line << type << " " << std::oct << (st.st_mode & 07777) << std::dec << " " << st.st_uid << ":"
       << st.st_gid << " mtime=" << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec;
  if (type == 'f') {
    line << " size=" << st.st_size << " sha256=" << Sha256Hex(ReadFile(p))
         << " nlink=" << st.st_nlink;
  } else if (type == 'l') {
    char target[4096];
    ssize_t n = readlink(p.c_str(), target, sizeof target);
    line << " -> " << std::string(target, n > 0 ? static_cast<size_t>(n) : 0);
  }
  char names[8192];
  ssize_t n = llistxattr(p.c_str(), names, sizeof names);
  std::vector<std::string> xs;
  for (ssize_t off = 0; n > 0 && off < n;
       off += static_cast<ssize_t>(std::strlen(names + off)) + 1) {
    std::string name = names + off;
    if (name.rfind("user.", 0) != 0) continue;
    char val[4096];
    ssize_t vn = lgetxattr(p.c_str(), name.c_str(), val, sizeof val);
    xs.push_back(name + "=" + std::string(val, vn > 0 ? static_cast<size_t>(vn) : 0));
  }
  std::sort(xs.begin(), xs.end());
  for (const auto& x : xs) line << " " << x;
  out->push_back(line.str());
  if (type == 'd') {
    DIR* d = opendir(p.c_str());
    if (!d) return;
    std::vector<std::string> kids;
    for (dirent* de; (de = readdir(d));) {
      std::string nm = de->d_name;
      if (nm != "." && nm != "..") kids.push_back(nm);
    }
    closedir(d);
    std::sort(kids.begin(), kids.end());
    for (const auto& k : kids) DescribeInto(root, rel.empty() ? k : rel + "/" + k, out);
  }
}

void FindTemps(const std::string& dir, const std::string& rel, std::vector<std::string>* out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  for (dirent* de; (de = readdir(d));) {
    std::string nm = de->d_name;
    if (nm == "." || nm == "..") continue;
    std::string r = rel.empty() ? nm : rel + "/" + nm;
    if (nm.rfind(".vaultd-move-", 0) == 0) out->push_back(r);
    if (de->d_type == DT_DIR) FindTemps(dir + "/" + nm, r, out);
  }
  closedir(d);
}
}  // namespace

unsigned TestSeed(const std::string& test) {
  unsigned seed = static_cast<unsigned>(std::random_device{}());
  if (const char* s = std::getenv("VAULTD_TEST_SEED")) {
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  }
  std::printf("%s seed=%u (replay: VAULTD_TEST_SEED=%u)\n", test.c_str(), seed, seed);
  std::fflush(stdout);
  return seed;
}

std::string Describe(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return "<absent>";
  std::vector<std::string> lines;
  DescribeInto(path, "", &lines);
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

std::vector<std::string> TempLeftovers(const std::string& dir) {
  std::vector<std::string> out;
  FindTemps(dir, "", &out);
  return out;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void MakeDirs(const std::string& path) {
  std::string cur;
  std::istringstream in(path);
  for (std::string part; std::getline(in, part, '/');) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) {
      throw std::runtime_error("mkdir " + cur + ": " + std::strerror(errno));
    }
  }
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> JournalFiles(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  for (dirent* de; (de = readdir(d));) {
    std::string nm = de->d_name;
    if (nm == "." || nm == ".." || nm.rfind("stripe-", 0) == 0) continue;
    out.push_back(nm);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace vaultd::shimtest
