// The HTTP/1.1 response parser behind HttpFetch (see http_response.h).
#include "vaultd/orchestrator_client/http_response.h"

#include <algorithm>
#include <cctype>

namespace vaultd::orchestrator_client::internal {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

Status ChunkedDecoder::Feed(std::string_view data) {
  size_t i = 0;
  while (i < data.size() && state_ != State::kDone) {
    switch (state_) {
      case State::kSizeLine: {
        size_t lf = data.find('\n', i);
        size_t end = lf == std::string_view::npos ? data.size() : lf;
        if (line_.size() + (end - i) > kMaxSizeLine)
          return Status::Corruption("chunk size line longer than " + std::to_string(kMaxSizeLine) +
                                    " bytes");
        line_.append(data.substr(i, end - i));
        i = end;
        if (lf == std::string_view::npos) break;
        ++i;
        VAULTD_RETURN_IF_ERROR(EndSizeLine());
        break;
      }
      case State::kData: {
        size_t n = std::min(remaining_, data.size() - i);
        body_.append(data.substr(i, n));
        i += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDataCr;
        break;
      }
      case State::kDataCr:
      case State::kDataLf:
        if (data[i] != (state_ == State::kDataCr ? '\r' : '\n'))
          return Status::Corruption("chunk not followed by CRLF");
        ++i;
        state_ = state_ == State::kDataCr ? State::kDataLf : State::kSizeLine;
        break;
      case State::kDone:
        break;
    }
  }
  return Status::Ok();
}

Status ChunkedDecoder::EndSizeLine() {
  if (line_.empty() || line_.back() != '\r')
    return Status::Corruption("chunk size line not ended by CRLF");
  std::string_view size_text(line_.data(), line_.size() - 1);
  size_text = size_text.substr(0, size_text.find(';'));
  if (size_text.empty() || size_text.size() > 8) return Status::Corruption("bad chunk size");
  size_t size = 0;
  for (char c : size_text) {
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
            : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                        : -1;
    if (v < 0) return Status::Corruption("bad chunk size");
    size = size * 16 + static_cast<size_t>(v);
  }
  line_.clear();  // keeps its capacity: no allocation per chunk
  if (size == 0) {
    state_ = State::kDone;
    return Status::Ok();
  }
  if (size > max_body_ - body_.size())
    return Status::Corruption("chunked body exceeds the limit of " + std::to_string(max_body_) +
                              " bytes");
  remaining_ = size;
  state_ = State::kData;
  return Status::Ok();
}

Status HttpResponseParser::Feed(std::string_view data) {
  if (!error_.ok()) return error_;
  if (done_ || data.empty()) return Status::Ok();
  Status s = FeedInner(data);
  if (!s.ok()) error_ = s;
  return s;
}

Status HttpResponseParser::FinishAtEof() {
  if (!error_.ok()) return error_;
  if (done_) return Status::Ok();
  if (!have_head_)
    return Status::Unavailable(head_.empty() ? "before any response"
                                             : "inside the response headers");
  if (!chunked_ && !content_length_) {
    done_ = true;  // the body ends at EOF
    return Status::Ok();
  }
  return Status::Unavailable("before the end of the body");
}

Status HttpResponseParser::FeedInner(std::string_view data) {
  if (have_head_) return FeedBody(data);
  // The search resumes 3 bytes back: a CRLFCRLF may straddle two reads.
  const size_t scan_from = head_.size() < 3 ? 0 : head_.size() - 3;
  head_.append(data);
  const size_t end = head_.find("\r\n\r\n", scan_from);
  // The first blank line must end within max_head_ bytes, wherever the reads split.
  if (end == std::string::npos) {
    if (head_.size() > max_head_) return Status::Corruption("response exceeds the size limit");
    return Status::Ok();
  }
  if (max_head_ < 4 || end > max_head_ - 4)
    return Status::Corruption("response exceeds the size limit");
  have_head_ = true;
  std::string rest = head_.substr(end + 4);
  head_.resize(end);
  VAULTD_RETURN_IF_ERROR(ParseHead(head_));
  head_.clear();
  head_.shrink_to_fit();
  if (no_body_) {
    done_ = true;
    return Status::Ok();
  }
  if (chunked_) dechunk_.emplace(max_body_);
  if (!chunked_ && content_length_ && *content_length_ == 0) {
    done_ = true;
    return Status::Ok();
  }
  return FeedBody(rest);
}

Status HttpResponseParser::ParseHead(std::string_view head) {
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ')
    return Status::Corruption("bad status line '" + std::string(status_line.substr(0, 64)) + "'");
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(status_line[i])))
      return Status::Corruption("bad status code");
    code = code * 10 + (status_line[i] - '0');
  }
  resp_.status = code;
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string_view::npos) next = head.size();
    std::string_view line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Status::Corruption("header line without ':'");
    std::string name = Lower(std::string(line.substr(0, colon)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (name == "content-length") {
      size_t v = 0;
      if (value.empty() || value.size() > 12) return Status::Corruption("bad Content-Length");
      for (char c : value) {
        if (!std::isdigit(static_cast<unsigned char>(c)))
          return Status::Corruption("bad Content-Length");
        v = v * 10 + static_cast<size_t>(c - '0');
      }
      if (content_length_ && *content_length_ != v)
        return Status::Corruption("two different Content-Length headers");
      content_length_ = v;
    } else if (name == "transfer-encoding") {
      chunked_ = Lower(std::string(value)).find("chunked") != std::string::npos;
    }
    resp_.headers.emplace_back(std::move(name), std::string(value));
    pos = next + 2;
  }
  // A response to HEAD, a 204 and a 304 have no body, whatever the headers say.
  no_body_ = head_request_ || code == 204 || code == 304;
  if (content_length_ && *content_length_ > max_body_)
    return Status::Corruption("body of " + std::to_string(*content_length_) +
                              " bytes exceeds the limit");
  return Status::Ok();
}

Status HttpResponseParser::FeedBody(std::string_view data) {
  if (chunked_) {
    VAULTD_RETURN_IF_ERROR(dechunk_->Feed(data));
    if (dechunk_->done()) {
      resp_.body = std::move(dechunk_->body());
      done_ = true;
    }
    return Status::Ok();
  }
  if (content_length_) {
    resp_.body.append(data.substr(0, *content_length_ - resp_.body.size()));
    if (resp_.body.size() == *content_length_) done_ = true;
    return Status::Ok();
  }
  if (data.size() > max_body_ - resp_.body.size())
    return Status::Corruption("body without Content-Length exceeds the limit of " +
                              std::to_string(max_body_) + " bytes");
  resp_.body.append(data);
  return Status::Ok();
}

}  // namespace vaultd::orchestrator_client::internal
