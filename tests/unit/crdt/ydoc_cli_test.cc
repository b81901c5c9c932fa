// Runs the real ydoc binary of this build.
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <cstdio>
#include <filesystem>
#include <string>

namespace {

struct Out {
  int code;
  std::string text;
};

Out Ydoc(const std::string& args) {
  std::string cmd = std::string(VAULTD_BIN_DIR) + "/ydoc " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text};
}

class YdocCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("ydoc_cli_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string P(const std::string& name) { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(YdocCli, EditInspectMergeDiffSv) {
  ASSERT_EQ(Ydoc("edit --client 1 -o " + P("a.bin") +
                 " text.insert t 0 hello map.set m k '{\"x\":[1,2]}'")
                .code,
            0);
  ASSERT_EQ(Ydoc("edit --client 2 --in " + P("a.bin") + " -o " + P("b.bin") +
                 " text.delete t 0 1 array.insert a 0 '[true,\"s\"]'")
                .code,
            0);
  auto o = Ydoc("inspect " + P("b.bin") + " " + P("a.bin"));  // out of order
  EXPECT_EQ(o.code, 0) << o.text;
  EXPECT_EQ(o.text, "{\"a\":[true,\"s\"],\"m\":{\"k\":{\"x\":[1,2]}},\"t\":\"ello\"}\n");
  o = Ydoc("inspect --root t:text --root z:map " + P("a.bin") + " " + P("b.bin"));
  EXPECT_EQ(o.text, "{\"a\":[true,\"s\"],\"m\":{\"k\":{\"x\":[1,2]}},\"t\":\"ello\",\"z\":{}}\n");
  ASSERT_EQ(Ydoc("merge " + P("a.bin") + " " + P("b.bin") + " -o " + P("m.bin")).code, 0);
  EXPECT_EQ(Ydoc("inspect " + P("m.bin")).text,
            "{\"a\":[true,\"s\"],\"m\":{\"k\":{\"x\":[1,2]}},\"t\":\"ello\"}\n");
  ASSERT_EQ(Ydoc("sv " + P("a.bin") + " -o " + P("a.sv")).code, 0);
  ASSERT_EQ(Ydoc("diff --sv " + P("a.sv") + " " + P("m.bin") + " -o " + P("d.bin")).code, 0);
  EXPECT_EQ(Ydoc("inspect " + P("a.bin") + " " + P("d.bin")).text,
            Ydoc("inspect " + P("m.bin")).text);
}

TEST_F(YdocCli, ErrorsNameTheFileAndUsageIsExit2) {
  {
    FILE* f = fopen(P("bad.bin").c_str(), "wb");
    fputs("\x05garbage", f);
    fclose(f);
  }
  auto o = Ydoc("inspect " + P("bad.bin"));
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.text.find("bad.bin"), std::string::npos) << o.text;
  EXPECT_EQ(Ydoc("inspect " + P("missing.bin")).code, 1);
  EXPECT_EQ(Ydoc("merge " + P("bad.bin")).code, 2);
  EXPECT_EQ(Ydoc("inspect --root t:tree " + P("bad.bin")).code, 2);
  EXPECT_EQ(Ydoc("edit -o " + P("x.bin") + " text.insert t nope x").code, 2);
  EXPECT_EQ(Ydoc("--help").code, 0);
}

TEST_F(YdocCli, DriverAnswersEveryLine) {
  std::string in = P("in.jsonl");
  FILE* f = fopen(in.c_str(), "w");
  fputs(
      "{\"op\":\"new\",\"peer\":1,\"client\":1}\n"
      "{\"op\":\"text.insert\",\"peer\":1,\"path\":[\"t\"],\"index\":0,\"text\":\"ab\"}\n"
      "not json\n"
      "{\"op\":\"json\",\"peer\":1}\n",
      f);
  fclose(f);
  auto o = Ydoc("driver < " + in);
  EXPECT_EQ(o.code, 0);
  EXPECT_EQ(o.text,
            "{\"ok\":true}\n{\"ok\":true,\"update\":\"AQEBAAQBAXQCYWIA\"}\n"
            "{\"ok\":false,\"error\":\"bad request: [json.exception.parse_error.101] parse error "
            "at line 1, column 2: "
            "syntax error while parsing value - invalid literal; last read: 'no'\"}\n"
            "{\"ok\":true,\"json\":{\"t\":\"ab\"}}\n");
}

TEST_F(YdocCli, ApplyTraceReplaysTheAutomergePaper) {
  // ../shared/data beside the repository (CI), or VAULTD_DATA_DIR.
  const char* env = getenv("VAULTD_DATA_DIR");
  std::string data = env ? env : std::string(VAULTD_SOURCE_DIR) + "/../shared/data";
  std::string trace = data + "/automerge-paper.json.gz";
  if (!std::filesystem::exists(trace)) GTEST_SKIP() << "no trace at " << trace;
  auto o = Ydoc("apply-trace " + trace);
  ASSERT_EQ(o.code, 0) << o.text;
  EXPECT_NE(o.text.find("\"bytes\":223414,\"ok\":true}"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.rfind("{\"replay_ms\":", 0), 0u) << o.text;
}

}  // namespace
