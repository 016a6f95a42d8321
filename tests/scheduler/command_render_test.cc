// Templates in a string command reach the process as text, whatever the value and whatever quotes
// the DAG's author put around them: each case runs the rendered command for real and compares
// the bytes it printed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "engine/exec/process_runner.h"
#include "engine/scheduler/task_render.h"
#include "tests/support/temp_dir.h"

namespace conveyor::scheduler {
namespace {

// Renders `command` with params.v = `value` and runs it; returns what it printed, or the
// rendering error.
std::string RunWith(const std::string& command, const std::string& value) {
  dag::Task task;
  task.id = "t";
  task.command = command;
  task.has_templates = true;
  const nlohmann::json context = {{"params", {{"v", value}}}};
  auto rendered = RenderTask(task, context);
  if (!rendered.ok()) return "error: " + rendered.error().message;
  exec::ProcessSpec spec;
  if (rendered->command->is_array()) {
    for (const auto& arg : *rendered->command) spec.argv.push_back(arg.get<std::string>());
  } else {
    spec.argv = {"/bin/sh", "-c", rendered->command->get<std::string>()};
  }
  spec.env = {"PATH=/usr/bin:/bin"};
  for (const auto& [name, text] : rendered->env) spec.env.push_back(name + "=" + text);
  testing::TempDir dir;
  spec.log_path = dir.path() + "/out.log";
  auto result = exec::SystemProcessRunner().Run(spec, exec::IgnoreProcessStart);
  if (!result.ok()) return "error: " + result.error().message;
  std::ifstream in(spec.log_path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

const std::vector<std::string>& HostileValues() {
  static const std::vector<std::string> kValues = {"$(id)",
                                                   "`id`",
                                                   "'",
                                                   "\"",
                                                   ";",
                                                   "a\nb",
                                                   "--option",
                                                   "a  b",
                                                   "",
                                                   "*",
                                                   "\\",
                                                   "$HOME",
                                                   "x'\"$(touch /tmp/conveyor_pwned)\"'y",
                                                   std::string(64 * 1024, 'x') + "$(id)"};
  return kValues;
}

TEST(CommandRenderTest, HostileValuesReachTheProcessAsText) {
  for (const std::string& value : HostileValues()) {
    SCOPED_TRACE(value.substr(0, 40));
    // Bare: one word, never split or globbed.
    EXPECT_EQ(RunWith("printf '%s|' {{ params.v }}", value), value + "|");
    EXPECT_EQ(RunWith("printf '%s|' x{{ params.v }}y", value), "x" + value + "y|");
    // Inside double quotes, with and without the q filter.
    EXPECT_EQ(RunWith("printf '%s|' \"<{{ params.v }}>\"", value), "<" + value + ">|");
    EXPECT_EQ(RunWith("printf '%s|' \"n={{ params.v | q }}\"", value), "n=" + value + "|");
    // Inside single quotes.
    EXPECT_EQ(RunWith("printf '%s|' '<{{ params.v }}>'", value), "<" + value + ">|");
    // Inside a command substitution, in and out of double quotes.
    EXPECT_EQ(RunWith("printf '%s|' \"$(printf '%s' {{ params.v }})\"", value),
              value.ends_with("\n") ? value.substr(0, value.size() - 1) + "|" : value + "|");
  }
  EXPECT_NE(access("/tmp/conveyor_pwned", F_OK), 0);
}

TEST(CommandRenderTest, CommandsWithoutShellSyntaxRunWithoutAShell) {
  dag::Task task;
  task.command = "python3 train.py --name {{ params.v }} --x";
  task.has_templates = true;
  auto rendered = RenderTask(task, {{"params", {{"v", "a b; $(id)"}}}});
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->command->dump(), R"j(["python3","train.py","--name","a b; $(id)","--x"])j");
  EXPECT_TRUE(rendered->env.empty());
  EXPECT_EQ(RunWith("echo {{ params.v }}", "a  b $(id)"), "a  b $(id)\n");
}

TEST(CommandRenderTest, AShellBuiltInRunsInTheShell) {
  EXPECT_EQ(exec::CommandArgv("exit 99"), (std::vector<std::string>{"/bin/sh", "-c", "exit 99"}));
  EXPECT_EQ(exec::CommandArgv("cd /tmp"), (std::vector<std::string>{"/bin/sh", "-c", "cd /tmp"}));
  EXPECT_EQ(exec::CommandArgv("  exit"), (std::vector<std::string>{"/bin/sh", "-c", "  exit"}));
  EXPECT_EQ(exec::CommandArgv("exitcode 1"), (std::vector<std::string>{"exitcode", "1"}));
  // With a template, too: the value reaches the shell as a variable.
  EXPECT_EQ(RunWith("exit {{ params.v }}", "0"), "");
}

TEST(CommandRenderTest, ScriptsReferToEnvironmentVariables) {
  dag::Task task;
  task.command = "echo \"{{ params.v }}\" > '{{ params.v }}.txt'";
  task.has_templates = true;
  auto rendered = RenderTask(task, {{"params", {{"v", "$(id)"}}}});
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->command->get<std::string>(),
            "echo \"${CONVEYOR_TEMPLATE_1}\" > ''\"${CONVEYOR_TEMPLATE_2}\"'.txt'");
  EXPECT_EQ(rendered->env.at("CONVEYOR_TEMPLATE_1"), "$(id)");
  EXPECT_EQ(rendered->env.at("CONVEYOR_TEMPLATE_2"), "$(id)");
}

TEST(CommandRenderTest, ValuesTooLargeForOneEntryFailTheTry) {
  EXPECT_EQ(RunWith("printf '%s' \"{{ params.v }}\"", std::string(200000, 'x')),
            "error: cannot render command: the value of {{ params.v }} is 200000 bytes, more "
            "than a process's argument or environment entry can hold (131072 bytes): pass it in "
            "a file");
  EXPECT_EQ(RunWith("echo {{ params.v }}", std::string(200000, 'x')),
            "error: cannot render command: the value of {{ params.v }} is 200000 bytes, more "
            "than a process's argument or environment entry can hold (131072 bytes): pass it in "
            "a file");
}

TEST(CommandRenderTest, SecretsAreSeenInEnvOnly) {
  dag::Task task;
  task.env = {{"KEY", "{{ secrets.api }}"}};
  task.has_templates = true;
  auto rendered = RenderTask(task, nlohmann::json::object(), {{"api", "s3cr3t"}});
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->env.at("KEY"), "s3cr3t");
  task.env = {{"KEY", "{{ secrets.other }}"}};
  EXPECT_EQ(RenderTask(task, nlohmann::json::object(), {{"api", "s3cr3t"}}).error().message,
            "cannot render env.KEY: unknown template name 'secrets.other'");
}

}  // namespace
}  // namespace conveyor::scheduler
