// download_file() against a real HTTP server on loopback: whole downloads,
// resumes, servers without Range support, bad checksums, refused
// connections, transfers cut off mid-body, and files already in place.
#include <gtest/gtest.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "daemon/terminal/download_progress.h"
#include "indexer/weights/model_download.h"
#include "tests/support/download_server.h"
#include "tests/support/files.h"
#include "tests/support/scratch.h"

namespace imgsearchd {
namespace {

namespace fs = std::filesystem;
using test::FileServer;

// Large enough for many writes and progress callbacks, small enough to be quick.
const std::string& test_file() {
  static const std::string bytes = test::test_bytes((1 << 20) + 12345, 42);
  return bytes;
}

using test::read_text;
using test::write_text;

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_dir("weights");
    log_ = std::tmpfile();
    lines_ = std::make_unique<TerminalDownloadProgress>(TerminalDownloadProgress::Style::lines, log_, "model.bin");
  }
  void TearDown() override { std::fclose(log_); }

  fs::path destination() const { return dir_ / "model.bin"; }
  fs::path part() const { return partial_path(destination()); }

  DownloadResult download(const std::string& url, const std::string& sha256) {
    DownloadOptions options;
    options.progress = lines_.get();
    return download_file({url, sha256, destination()}, options);
  }

  // What the download wrote to its progress stream.
  std::string log_text() {
    std::fflush(log_);
    std::rewind(log_);
    std::string text;
    for (int c; (c = std::fgetc(log_)) != EOF;) text += static_cast<char>(c);
    return text;
  }

  // Runs the download and returns the DownloadError it must throw.
  DownloadError failure(const std::string& url, const std::string& sha256) {
    try {
      download(url, sha256);
    } catch (const DownloadError& e) {
      return e;
    }
    ADD_FAILURE() << "download of " << url << " did not fail";
    return DownloadError(DownloadError::Kind::http, "");
  }

  fs::path dir_;
  std::FILE* log_ = nullptr;
  std::unique_ptr<TerminalDownloadProgress> lines_;  // the command line's progress lines, into log_
};

TEST(Sha256OfFile, MatchesTheStandardTestVector) {
  const fs::path path = test::fresh_dir("weights") / "abc.txt";
  write_text(path, "abc");
  // FIPS 180-2, appendix B.1.
  EXPECT_EQ(sha256_of_file(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(DownloadTest, DownloadsTheWholeFileAndVerifiesIt) {
  FileServer server(test_file());
  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(result.outcome, DownloadResult::Outcome::downloaded);
  EXPECT_EQ(result.path, destination());
  EXPECT_EQ(result.resumed_from, 0u);
  EXPECT_EQ(result.bytes_received, test_file().size());
  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_FALSE(fs::exists(part()));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].range, "");
  EXPECT_NE(log_text().find("saved " + destination().string()), std::string::npos) << log_text();
}

TEST_F(DownloadTest, AcceptsAnUpperCaseChecksumAndCreatesTheFolder) {
  FileServer server(test_file());
  std::string sha = test::sha256_hex(test_file());
  for (char& c : sha) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const fs::path nested = dir_ / "a" / "b" / "model.bin";
  download_file({server.url(), sha, nested});  // reports nothing
  EXPECT_EQ(read_text(nested), test_file());
}

TEST_F(DownloadTest, ResumesAPartialFileWithARangeRequest) {
  FileServer server(test_file());
  const size_t kept = 300000;
  write_text(part(), test_file().substr(0, kept));

  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_FALSE(fs::exists(part()));
  EXPECT_EQ(result.resumed_from, kept);
  EXPECT_EQ(result.bytes_received, test_file().size() - kept);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].range, "bytes=300000-");
  EXPECT_EQ(requests[0].body_bytes, test_file().size() - kept);  // only the rest crossed the wire
  EXPECT_NE(log_text().find("resuming model.bin from byte 300000"), std::string::npos) << log_text();
}

TEST_F(DownloadTest, StartsAgainFromZeroWhenTheServerIgnoresRange) {
  FileServer server(test_file(), FileServer::Mode::ignore_range);
  // Bytes that do not belong to the file: kept and appended to, the hash would fail.
  write_text(part(), std::string(300000, 'x'));

  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_FALSE(fs::exists(part()));
  EXPECT_EQ(result.resumed_from, 0u);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].range, "bytes=300000-");
  EXPECT_EQ(requests[0].body_bytes, test_file().size());
  EXPECT_NE(log_text().find("starting again from zero"), std::string::npos) << log_text();
}

TEST_F(DownloadTest, StartsAgainFromZeroWhenTheServerSendsAnotherRange) {
  FileServer server(test_file(), FileServer::Mode::wrong_range);
  write_text(part(), test_file().substr(0, 300000));

  download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(read_text(destination()), test_file());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].range, "bytes=300000-");
  EXPECT_EQ(requests[1].range, "");
  EXPECT_NE(log_text().find("starting again from zero"), std::string::npos) << log_text();
}

TEST_F(DownloadTest, FinishesAPartialFileThatIsAlreadyWhole) {
  // A run killed between the last byte and the rename: the server has nothing
  // left to send (416), and the .part itself has the right hash.
  FileServer server(test_file());
  write_text(part(), test_file());

  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(result.outcome, DownloadResult::Outcome::downloaded);
  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_FALSE(fs::exists(part()));
  for (const auto& request : server.requests()) EXPECT_EQ(request.body_bytes, 0u);
}

TEST_F(DownloadTest, StartsAgainWhenAFullLengthPartialFileIsWrong) {
  // The server has nothing left to send (416), but the .part is not the file.
  FileServer server(test_file());
  write_text(part(), std::string(test_file().size(), 'x'));

  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_EQ(result.resumed_from, 0u);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].range, "bytes=" + std::to_string(test_file().size()) + "-");
  EXPECT_EQ(requests[1].range, "");
  EXPECT_EQ(requests[1].body_bytes, test_file().size());
}

TEST_F(DownloadTest, ChecksumMismatchLeavesNeitherTheFileNorThePart) {
  FileServer server(test_file());
  const std::string wrong = test::sha256_hex("something else");
  const DownloadError error = failure(server.url(), wrong);

  EXPECT_EQ(error.kind(), DownloadError::Kind::checksum);
  const std::string message = error.what();
  EXPECT_NE(message.find("expected " + wrong), std::string::npos) << message;
  EXPECT_NE(message.find(test::sha256_hex(test_file())), std::string::npos) << message;  // what was found
  EXPECT_NE(message.find(server.url()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination()));
  EXPECT_FALSE(fs::exists(part()));
}

TEST_F(DownloadTest, RefusedConnectionSaysWhereToPutAFileObtainedElsewhere) {
  const std::string url = "http://127.0.0.1:" + std::to_string(test::closed_port()) + "/model.bin";
  const std::string sha = test::sha256_hex(test_file());
  const DownloadError error = failure(url, sha);

  EXPECT_EQ(error.kind(), DownloadError::Kind::network);
  const std::string message = error.what();
  EXPECT_NE(message.find("could not download " + url), std::string::npos) << message;
  EXPECT_NE(message.find("Connection refused"), std::string::npos) << message;
  EXPECT_NE(message.find("put the file at\n  " + destination().string() + "\n"), std::string::npos) << message;
  EXPECT_NE(message.find("SHA-256 must be " + sha), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination()));
  EXPECT_FALSE(fs::exists(part()));  // an empty .part is not left behind
}

TEST_F(DownloadTest, HttpErrorNamesTheStatusAndKeepsNothing) {
  FileServer server(test_file());
  const DownloadError error = failure(server.url("/missing"), test::sha256_hex(test_file()));

  EXPECT_EQ(error.kind(), DownloadError::Kind::http);
  const std::string message = error.what();
  EXPECT_NE(message.find("HTTP 404"), std::string::npos) << message;
  EXPECT_NE(message.find(destination().string()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(destination()));
  EXPECT_FALSE(fs::exists(part()));
}

TEST_F(DownloadTest, InterruptedTransferLeavesNoFinalFileAndTheNextPullCompletes) {
  FileServer server(test_file(), FileServer::Mode::cut_off_first);
  const std::string sha = test::sha256_hex(test_file());
  const size_t half = test_file().size() / 2;

  const DownloadError error = failure(server.url(), sha);
  EXPECT_EQ(error.kind(), DownloadError::Kind::network);
  EXPECT_NE(std::string(error.what()).find("kept in " + part().string()), std::string::npos) << error.what();
  EXPECT_FALSE(fs::exists(destination()));
  ASSERT_TRUE(fs::exists(part()));
  EXPECT_EQ(fs::file_size(part()), half);

  const DownloadResult result = download(server.url(), sha);
  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_FALSE(fs::exists(part()));
  EXPECT_EQ(result.resumed_from, half);
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].body_bytes, half);
  EXPECT_EQ(requests[1].range, "bytes=" + std::to_string(half) + "-");
  EXPECT_EQ(requests[1].body_bytes, test_file().size() - half);
}

TEST_F(DownloadTest, PresentFileWithTheRightHashMakesNoRequest) {
  FileServer server(test_file());
  write_text(destination(), test_file());

  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(result.outcome, DownloadResult::Outcome::already_present);
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_FALSE(fs::exists(part()));
}

TEST_F(DownloadTest, PresentFileWithTheWrongHashIsReplaced) {
  FileServer server(test_file());
  write_text(destination(), "not the model");

  const DownloadResult result = download(server.url(), test::sha256_hex(test_file()));

  EXPECT_EQ(result.outcome, DownloadResult::Outcome::downloaded);
  EXPECT_EQ(read_text(destination()), test_file());
  EXPECT_NE(log_text().find("exists but its SHA-256 is"), std::string::npos) << log_text();
}

TEST_F(DownloadTest, FollowsRedirects) {
  FileServer server(test_file());
  download(server.url("/redirect"), test::sha256_hex(test_file()));

  EXPECT_EQ(read_text(destination()), test_file());
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].path, "/redirect");
  EXPECT_EQ(requests[1].path, "/file.bin");
}

TEST_F(DownloadTest, RefusesToWriteIntoAPartAnotherProcessIsFilling) {
  FileServer server(test_file());
  write_text(part(), test_file().substr(0, 1000));
  const int fd = ::open(part().c_str(), O_RDWR);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);

  const DownloadError error = failure(server.url(), test::sha256_hex(test_file()));
  ::close(fd);

  EXPECT_EQ(error.kind(), DownloadError::Kind::busy);
  EXPECT_NE(std::string(error.what()).find(part().string()), std::string::npos) << error.what();
  EXPECT_TRUE(server.requests().empty());
  EXPECT_EQ(fs::file_size(part()), 1000u);  // the other process's bytes are untouched
}

TEST_F(DownloadTest, RejectsAMalformedChecksumOrUrl) {
  EXPECT_THROW(download("http://127.0.0.1:1/x", "abc"), InvalidInput);
  EXPECT_THROW(download("ftp://127.0.0.1/x", test::sha256_hex("x")), InvalidInput);
}

TEST_F(DownloadTest, ProgressBarShowsBytesTotalAndPercent) {
  FileServer server(test_file());
  TerminalDownloadProgress bar(TerminalDownloadProgress::Style::bar, log_, "model.bin");
  DownloadOptions options;
  options.progress = &bar;
  download_file({server.url(), test::sha256_hex(test_file()), destination()}, options);

  const std::string text = log_text();
  EXPECT_NE(text.find('\r'), std::string::npos) << text;
  EXPECT_NE(text.find("100%  1.0 MiB / 1.0 MiB"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA"), std::string::npos) << text;
}

}  // namespace
}  // namespace imgsearchd
