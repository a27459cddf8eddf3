#include "trace/trace_writer.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "base/unique_fd.h"
#include "trace/chunk_writer.h"
#include "trace/error.h"
#include "trace/io.h"

namespace backstep::trace {
namespace {

// Streams a file through XXH3-128 in blocks of one reused buffer, handing
// each block to `sink` too: a library is megabytes, and reading it whole into
// fresh memory costs a page fault per 4 KiB.
template <class Sink>
std::string stream_file(const std::filesystem::path& path, Sink&& sink) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw TraceError(fmt::format("cannot read {}", path.string()));
  struct StateDeleter {
    void operator()(XXH3_state_t* s) const noexcept { XXH3_freeState(s); }
  };
  std::unique_ptr<XXH3_state_t, StateDeleter> state(XXH3_createState());
  if (!state || XXH3_128bits_reset(state.get()) == XXH_ERROR) throw std::bad_alloc();
  // Not zero-filled: every byte used was just read.
  constexpr size_t kBlock = size_t{256} << 10;
  thread_local std::unique_ptr<char[]> buf(new char[kBlock]);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.get(), kBlock);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw TraceError(fmt::format("cannot read {}", path.string()));
    if (n == 0) break;
    XXH3_128bits_update(state.get(), buf.get(), static_cast<size_t>(n));
    sink(buf.get(), static_cast<size_t>(n));
  }
  XXH128_hash_t h = XXH3_128bits_digest(state.get());
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

}  // namespace

std::string hash_file(const std::filesystem::path& path) {
  return stream_file(path, [](const char*, size_t) {});
}

// The writer's thread and the queue that feeds it. The ChunkWriter is the
// thread's alone once it runs; the queue, the error and the spare buffers
// are shared under `mutex_`.
class TraceWriter::Pipeline {
 public:
  Pipeline(ChunkWriter chunks, std::vector<int> cpus)
      : chunks_(std::move(chunks)), cpus_(std::move(cpus)) {}
  ~Pipeline() { stop(); }

  void push(Event event) {
    // Bulk bytes count as what they are: the thread is woken for them, and
    // their storage comes back as spares while the recorder still needs it.
    size_t cost = kEventCost;
    if (const auto* b = std::get_if<SyscallBuffer>(&event)) cost += b->records.size();
    enqueue(Job{std::move(event)}, cost);
  }
  void push(MapEventBuffer events) {
    size_t cost = events.size() * sizeof(abi::MapEvent) + kEventCost;
    enqueue(Job{std::move(events)}, cost);
  }

  MapEventBuffer spare() { return take_spare(spares_); }
  std::pmr::vector<std::byte> spare_bytes() { return take_spare(byte_spares_); }

  // Waits until every job queued so far is done and the chunk writer's
  // pending records are in the file.
  void flush() {
    uint64_t ticket = enqueue(Job{FlushRequest{}}, 0, /*urgent=*/true);
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return done_ >= ticket || error_; });
    rethrow_error();
  }

  // Idempotent; after it, queuing throws.
  void close() {
    if (closed_) return;
    flush();
    stop();
    closed_ = true;
    chunks_.close();
  }

 private:
  struct FlushRequest {};
  using Job = std::variant<Event, MapEventBuffer, FlushRequest>;
  struct Queued {
    Job job;
    size_t cost = 0;
  };
  // What a record costs against the limits below, besides its map events.
  static constexpr size_t kEventCost = 512;
  // The thread is woken once this much has been queued, not per record: a
  // syscall-heavy program makes a stop every few tens of microseconds, and
  // a wake-up per stop would cost about as much as the stop.
  static constexpr size_t kWakeCost = size_t{256} << 10;
  // Handed-over work the recorder may be ahead of the thread by: enough to
  // ride out a slow write, bounded so a stalled disk does not eat memory.
  static constexpr size_t kMaxQueued = size_t{64} << 20;
  // Drain buffers kept for reuse (each up to a ring's or a syscall
  // buffer's worth, 1 MiB): fresh memory costs a page fault per 4 KiB.
  static constexpr size_t kMaxSpares = 16;

  template <class Buffer>
  Buffer take_spare(std::vector<Buffer>& spares) {
    std::lock_guard lock(mutex_);
    if (spares.empty()) return {};
    Buffer v = std::move(spares.back());
    spares.pop_back();
    return v;
  }

  void rethrow_error() {
    if (error_) std::rethrow_exception(error_);
  }

  // Returns the job's ticket: jobs are done in ticket order.
  uint64_t enqueue(Job job, size_t cost, bool urgent = false) {
    std::unique_lock lock(mutex_);
    rethrow_error();
    if (closed_) {
      throw TraceError(fmt::format("trace writer for {} is closed", chunks_.path().string()));
    }
    if (!thread_.joinable()) {
      // Started with the first record, after the recorder has forked the
      // program: a fork copies only the calling thread.
      thread_ = std::thread([this] { run(); });
    }
    space_cv_.wait(lock, [&] { return queued_ <= kMaxQueued || error_; });
    rethrow_error();
    queue_.push_back({std::move(job), cost});
    queued_ += cost;
    since_wake_ += cost;
    if (urgent || since_wake_ >= kWakeCost) {
      since_wake_ = 0;
      wake_ = true;
      work_cv_.notify_one();
    }
    return ++queued_jobs_;
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      work_cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

  void run() {
    if (!cpus_.empty()) {
      // Best effort: only where the writer runs is at stake, not what it writes.
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int cpu : cpus_) CPU_SET(cpu, &set);
      (void)::sched_setaffinity(0, sizeof set, &set);
    }
    for (;;) {
      std::deque<Queued> jobs;
      bool failed = false;
      {
        std::unique_lock lock(mutex_);
        work_cv_.wait(lock, [&] { return wake_ || stopping_; });
        wake_ = false;
        if (queue_.empty()) {
          if (stopping_) return;
          continue;
        }
        jobs.swap(queue_);
        failed = error_ != nullptr;
      }
      std::exception_ptr error;
      size_t cost = 0;
      for (Queued& item : jobs) {
        cost += item.cost;
        if (failed || error) continue;
        try {
          process(item.job);
        } catch (...) {
          error = std::current_exception();
        }
        // At once, not after the batch: the recorder drains again while
        // the rest of the batch is written.
        recycle(item.job);
      }
      std::lock_guard lock(mutex_);
      if (error && !error_) error_ = error;
      queued_ -= cost;
      done_ += jobs.size();
      space_cv_.notify_one();
      done_cv_.notify_all();
    }
  }

  // The storage of a drain's buffer, back to the spares.
  void recycle(Job& job) {
    if (auto* events = std::get_if<MapEventBuffer>(&job)) {
      keep_spare(std::move(*events), spares_);
    } else if (auto* event = std::get_if<Event>(&job)) {
      if (auto* b = std::get_if<SyscallBuffer>(event))
        keep_spare(std::move(b->records), byte_spares_);
    }
  }

  template <class Buffer>
  void keep_spare(Buffer&& buffer, std::vector<Buffer>& spares) {
    if (buffer.capacity() == 0) return;
    buffer.clear();
    std::lock_guard lock(mutex_);
    if (spares.size() < kMaxSpares) spares.push_back(std::move(buffer));
  }

  void process(const Job& job) {
    if (const auto* event = std::get_if<Event>(&job)) {
      builder_.clear();
      encode(*event, builder_);
      chunks_.append(static_cast<uint16_t>(record_type(*event)), builder_.view());
    } else if (const auto* events = std::get_if<MapEventBuffer>(&job)) {
      batch_.events.assign(*events);
      builder_.clear();
      encode(batch_, builder_);
      chunks_.append(static_cast<uint16_t>(RecordType::kMapEvent), builder_.view());
    } else {
      chunks_.flush();
    }
  }

  ChunkWriter chunks_;
  std::vector<int> cpus_;  // where the thread runs (empty: anywhere)
  // The thread's own, reused for every record.
  RecordBuilder builder_;
  MapEvents batch_;

  std::mutex mutex_;
  std::condition_variable work_cv_;   // the thread waits for wake_
  std::condition_variable space_cv_;  // the recorder waits for room in the queue
  std::condition_variable done_cv_;   // flush() waits for its ticket
  std::deque<Queued> queue_;
  size_t queued_ = 0;      // cost of the jobs queued and not done
  size_t since_wake_ = 0;  // cost queued since the thread was last woken
  bool wake_ = false;
  uint64_t queued_jobs_ = 0;
  uint64_t done_ = 0;
  bool stopping_ = false;
  bool closed_ = false;  // the recorder's thread's alone
  std::exception_ptr error_;
  std::vector<MapEventBuffer> spares_;
  std::vector<std::pmr::vector<std::byte>> byte_spares_;  // SyscallBuffer records' storage
  std::thread thread_;
};

TraceWriter::TraceWriter(const std::filesystem::path& dir, std::vector<int> thread_cpus)
    : dir_(dir),
      pipeline_(std::make_unique<Pipeline>(ChunkWriter::create(dir / kEventsFile, kEventsFile),
                                           std::move(thread_cpus))) {
  std::filesystem::create_directory(dir_ / kFilesDir);
  std::filesystem::permissions(dir_ / kFilesDir, std::filesystem::perms::owner_all);
  if (const char* n = std::getenv("BACKSTEP_TEST_KILL_AFTER_RECORDS")) {
    kill_after_ = std::strtoull(n, nullptr, 10);
  }
}

void TraceWriter::count_record() {
  // Like a kill from outside at that moment: what the writer's thread has
  // not written yet is lost, the tracees die with their tracer (EXITKILL).
  if (kill_after_ != 0 && ++records_ == kill_after_) ::kill(::getpid(), SIGKILL);
}

TraceWriter::~TraceWriter() {
  try {
    close();
  } catch (...) {
  }
}

void TraceWriter::write(Event event) {
  count_record();
  pipeline_->push(std::move(event));
}

void TraceWriter::write_map_events(MapEventBuffer events) {
  count_record();
  pipeline_->push(std::move(events));
}

MapEventBuffer TraceWriter::spare_events() { return pipeline_->spare(); }

std::pmr::vector<std::byte> TraceWriter::spare_bytes() { return pipeline_->spare_bytes(); }

void TraceWriter::flush() { pipeline_->flush(); }

void TraceWriter::close() { pipeline_->close(); }

std::string TraceWriter::keep_file(const std::string& path) {
  return keep_open_file(path, path, /*reuse=*/true);
}

std::string TraceWriter::keep_open_file(const std::string& path, const std::string& source,
                                        bool reuse) {
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) throw TraceError(fmt::format("cannot stat {}", path));
  // A device or a pipe has no content to keep (reading /dev/zero would not end).
  if (!S_ISREG(st.st_mode)) throw TraceError(fmt::format("{} is not a regular file", path));
  // The content of one inode, whatever name reaches it.
  std::string identity = fmt::format("{}:{}:{}:{}", st.st_dev, st.st_ino, st.st_size,
                                     st.st_mtim.tv_nsec + st.st_mtim.tv_sec * 1000000000L);
  if (auto it = kept_.find(identity); reuse && it != kept_.end()) return it->second;
  // Hashed and copied in one pass, so the copy is the content its name
  // hashes even if the file changes meanwhile; renamed into place once named.
  std::filesystem::path tmp = dir_ / kFilesDir / ".incoming.tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw TraceError(fmt::format("cannot write {}", tmp.string()));
  std::string name = stream_file(source, [&](const char* data, size_t len) {
    if (detail::write_all(fd.get(), reinterpret_cast<const std::byte*>(data), len) != 0) {
      throw TraceError(fmt::format("cannot write {}", tmp.string()));
    }
  });
  fd.reset();
  std::filesystem::rename(tmp, dir_ / kFilesDir / name);
  kept_.insert_or_assign(identity, name);
  return name;
}

std::string TraceWriter::keep_content(std::span<const std::byte> content) {
  XXH128_hash_t h = XXH3_128bits(content.data(), content.size());
  std::string name = fmt::format("{:016x}{:016x}", h.high64, h.low64);
  std::filesystem::path final_path = dir_ / kFilesDir / name;
  if (std::filesystem::exists(final_path)) return name;
  std::filesystem::path tmp = dir_ / kFilesDir / ".incoming.tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd || detail::write_all(fd.get(), content.data(), content.size()) != 0) {
    throw TraceError(fmt::format("cannot write {}", tmp.string()));
  }
  fd.reset();
  std::filesystem::rename(tmp, final_path);
  return name;
}

}  // namespace backstep::trace
