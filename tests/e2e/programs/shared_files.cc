// shared_files: mappings of files that replay cannot open again by their
// path (unlinked files, POSIX shm objects, memfds) and mappings that alias
// one another. Every value printed was read through a mapping, so replay
// prints the same only if its mappings alias as natively and show the
// effects of write(), pwrite(), ftruncate() and mremap() on the file.
//
// Usage: shared_files unlinked DIR | file DIR | shm NAME | memfd | private DIR | syscalls DIR |
// device | sysv | threads
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr size_t kPage = 4096;

[[noreturn]] void fail(const char* what) {
  std::perror(what);
  std::exit(1);
}

char* map(size_t len, int prot, int flags, int fd, off_t off = 0) {
  void* p = mmap(nullptr, len, prot, flags, fd, off);
  if (p == MAP_FAILED) fail("mmap");
  return static_cast<char*>(p);
}

void put(int fd, const char* text, off_t off) {
  if (pwrite(fd, text, std::strlen(text), off) != static_cast<ssize_t>(std::strlen(text))) {
    fail("pwrite");
  }
}

uint64_t fnv(const char* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(p[i]);
    h *= 1099511628211ull;
  }
  return h;
}

// Two shared mappings of `fd` (at least two pages long) alias: what is
// written through one is read through the other, and what write() and
// pwrite() put in the file shows in both.
void alias(int fd, const char* who) {
  char* a = map(2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  char* b = map(2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  std::printf("%s: initial '%.24s'\n", who, b);
  std::strcpy(a + 100, "written through a");
  std::printf("%s: b reads '%.24s'\n", who, b + 100);
  put(fd, "pwritten", kPage + 10);
  std::printf("%s: a reads '%.24s', b reads '%.24s'\n", who, a + kPage + 10, b + kPage + 10);
  if (lseek(fd, 200, SEEK_SET) != 200) fail("lseek");
  if (write(fd, "plain write", 11) != 11) fail("write");
  std::printf("%s: b reads '%.24s'\n", who, b + 200);
  if (msync(a, 2 * kPage, MS_SYNC) != 0) fail("msync");
  char buf[32] = {};
  if (pread(fd, buf, 17, 100) != 17) fail("pread");
  std::printf("%s: pread '%.24s'\n", who, buf);

  // Grown: the file by ftruncate, a mapping by mremap; a third mapping
  // sees what was written through the grown part.
  if (ftruncate(fd, 4 * kPage) != 0) fail("ftruncate");
  a = static_cast<char*>(mremap(a, 2 * kPage, 4 * kPage, MREMAP_MAYMOVE));
  if (a == MAP_FAILED) fail("mremap");
  std::strcpy(a + 3 * kPage + 5, "in the grown part");
  char* c = map(4 * kPage, PROT_READ, MAP_SHARED, fd);
  std::printf("%s: c reads '%.24s', zeros after: %d\n", who, c + 3 * kPage + 5,
              c[3 * kPage + 100] == 0);
  // Shrunk, then grown again: the bytes past the cut are zeros.
  if (ftruncate(fd, 3 * kPage) != 0 || ftruncate(fd, 4 * kPage) != 0) fail("ftruncate");
  std::printf("%s: after the cut c reads '%.24s'\n", who, c + 3 * kPage + 5);
  std::printf("%s: hash %016llx\n", who, static_cast<unsigned long long>(fnv(c, 4 * kPage)));
  munmap(a, 4 * kPage);
  munmap(b, 2 * kPage);
  munmap(c, 4 * kPage);
}

void fill(int fd, const char* text) {
  std::string content(2 * kPage, '.');
  content.replace(0, std::strlen(text), text);
  content[std::strlen(text)] = '\0';
  if (write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    fail("write");
  }
}

int unlinked(const std::string& dir) {
  std::string path = dir + "/unlinked";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("open");
  fill(fd, "hello from an unlinked file");
  if (unlink(path.c_str()) != 0) fail("unlink");
  alias(fd, "unlinked");
  close(fd);
  return 0;
}

// A file that stays on disk: replay cannot use it (it may have changed or
// be gone) and maps its own copy, which must alias all the same.
int file(const std::string& dir) {
  std::string path = dir + "/kept";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("open");
  fill(fd, "hello from a file on disk");
  alias(fd, "file");
  close(fd);
  return 0;
}

int shm(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) fail("shm_open");
  fill(fd, "hello from shm");
  alias(fd, "shm");
  // Opened again by name: another fd of the same object, mapped, aliases a
  // mapping of the first fd.
  int again = shm_open(name.c_str(), O_RDWR, 0);
  if (again < 0) fail("shm_open again");
  char* x = map(kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  char* y = map(kPage, PROT_READ, MAP_SHARED, again);
  std::strcpy(x + 300, "through the first fd");
  std::printf("shm: second fd reads '%.24s'\n", y + 300);
  shm_unlink(name.c_str());
  close(again);
  close(fd);
  return 0;
}

int memfd() {
  int fd = memfd_create("shared_files", MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create");
  fill(fd, "hello from a memfd");
  alias(fd, "memfd");
  // A private mapping reads the file's current pages until it writes one.
  char* s = map(2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  char* p = map(2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
  std::strcpy(s + kPage + 50, "shared write");
  std::printf("memfd: private reads '%.24s'\n", p + kPage + 50);
  std::strcpy(p + 50, "private write");
  std::strcpy(s + 60, "later shared write");
  std::printf("memfd: shared reads '%.24s', private reads '%.24s' and '%.24s'\n", s + 50, p + 50,
              p + 60);
  close(fd);
  return 0;
}

// MAP_PRIVATE of an unlinked file, a memfd and a file on disk, each changed
// by pwrite after it was mapped (a page the mapping has not written shows
// the change) and by a write through the mapping (which stays in the
// mapping).
int private_maps(const std::string& dir) {
  std::string path = dir + "/private";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("open");
  fill(fd, "private unlinked");
  if (unlink(path.c_str()) != 0) fail("unlink");
  int mfd = memfd_create("private", MFD_CLOEXEC);
  if (mfd < 0) fail("memfd_create");
  fill(mfd, "private memfd");
  std::string kept = dir + "/private-kept";
  int kfd = open(kept.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (kfd < 0) fail("open");
  fill(kfd, "private file on disk");
  for (int f : {fd, mfd, kfd}) {
    char* p = map(2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, f);
    std::printf("private: reads '%.24s'\n", p);
    std::strcpy(p, "mine");
    put(f, "changed in the file", kPage);
    char buf[8] = {};
    if (pread(f, buf, 4, 0) != 4) fail("pread");
    std::printf("private: reads '%.24s' and '%.24s'; the file has '%.24s'\n", p, p + kPage, buf);
    munmap(p, 2 * kPage);
  }
  close(fd);
  close(mfd);
  close(kfd);
  return 0;
}

sigjmp_buf g_bus_jump;
void on_bus(int) { siglongjmp(g_bus_jump, 1); }

// The other ways a syscall changes a mapped file, each seen through a shared
// mapping: O_APPEND writes, writev, sendfile and copy_file_range into it,
// fallocate punching a hole, truncate() and open(O_TRUNC) by its path, and
// a read-only fd whose mapping may not become writable. Reading past the
// end of the file raises SIGBUS.
int syscalls(const std::string& dir) {
  std::string path = dir + "/syscalls";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) fail("open");
  fill(fd, "syscalls");
  char* m = map(4 * kPage, PROT_READ, MAP_SHARED, fd);
  int app = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (app < 0 || write(app, "appended", 8) != 8) fail("append");
  std::printf("syscalls: append '%.8s'\n", m + 2 * kPage);
  iovec iov[2] = {{const_cast<char*>("vec"), 3}, {const_cast<char*>("tor"), 3}};
  if (lseek(fd, 10, SEEK_SET) != 10 || writev(fd, iov, 2) != 6) fail("writev");
  std::printf("syscalls: writev '%.6s'\n", m + 10);
  if (pwritev2(fd, iov, 1, 20, 0) != 3) fail("pwritev2");
  std::printf("syscalls: pwritev2 '%.3s'\n", m + 20);
  std::string src_path = dir + "/source";  // copy_file_range stays on one file system
  int src = open(src_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (src < 0 || write(src, "from sendfile and copy_file_range", 33) != 33) fail("source");
  unlink(src_path.c_str());
  off_t from = 0;
  if (lseek(fd, 30, SEEK_SET) != 30 || sendfile(fd, src, &from, 13) != 13) fail("sendfile");
  std::printf("syscalls: sendfile '%.13s'\n", m + 30);
  loff_t in = 18;
  loff_t out = 50;
  if (copy_file_range(src, &in, fd, &out, 15, 0) != 15) fail("copy_file_range");
  std::printf("syscalls: copy_file_range '%.15s'\n", m + 50);
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, kPage) != 0) {
    std::printf("syscalls: no hole punched\n");
  } else {
    std::printf("syscalls: after the hole '%.8s' (%d)\n", m + 10, m[10] == 0);
  }
  if (truncate(path.c_str(), kPage + 5) != 0) fail("truncate");
  std::printf("syscalls: truncated, last byte '%c'\n", m[kPage + 4]);
  struct sigaction sa {};
  sa.sa_handler = on_bus;
  sigaction(SIGBUS, &sa, nullptr);
  if (sigsetjmp(g_bus_jump, 1) == 0) {
    std::printf("syscalls: past the end reads %d\n", m[3 * kPage]);
  } else {
    std::printf("syscalls: past the end raised SIGBUS\n");
  }
  int again = open(path.c_str(), O_RDWR | O_TRUNC | O_CLOEXEC);
  if (again < 0) fail("open O_TRUNC");
  if (sigsetjmp(g_bus_jump, 1) == 0) {
    std::printf("syscalls: after O_TRUNC reads %d\n", m[0]);
  } else {
    std::printf("syscalls: after O_TRUNC, SIGBUS\n");
  }
  if (ftruncate(again, kPage) != 0) fail("ftruncate");
  std::printf("syscalls: zeros again %d\n", m[0] == 0 && m[kPage - 1] == 0);
  int ro = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  char* r = map(kPage, PROT_READ, MAP_SHARED, ro);
  std::printf("syscalls: mprotect of a read-only fd's mapping: %s\n",
              mprotect(r, kPage, PROT_READ | PROT_WRITE) == 0 ? "allowed" : std::strerror(errno));
  unlink(path.c_str());
  return 0;
}

// SysV shm: two attachments of one segment alias, a read-only one sees the
// stores, a detached one is gone; a segment attached again after every
// attachment was detached keeps its content.
int sysv() {
  int id = shmget(IPC_PRIVATE, 3 * kPage + 100, IPC_CREAT | 0600);
  if (id < 0) fail("shmget");
  char* a = static_cast<char*>(shmat(id, nullptr, 0));
  char* b = static_cast<char*>(shmat(id, nullptr, 0));
  char* r = static_cast<char*>(shmat(id, nullptr, SHM_RDONLY));
  if (a == reinterpret_cast<char*>(-1) || b == a || r == a) fail("shmat");
  std::strcpy(a + 3 * kPage + 10, "in the last page");
  std::printf("sysv: b reads '%.24s', r reads '%.24s'\n", b + 3 * kPage + 10, r + 3 * kPage + 10);
  struct shmid_ds ds {};
  if (shmctl(id, IPC_STAT, &ds) != 0) fail("shmctl");
  std::printf("sysv: %lu attachments of %zu bytes\n", static_cast<unsigned long>(ds.shm_nattch),
              static_cast<size_t>(ds.shm_segsz));
  if (shmdt(a) != 0 || shmdt(b) != 0 || shmdt(r) != 0) fail("shmdt");
  std::printf("sysv: shmdt of a detached address: %s\n",
              shmdt(a) == 0 ? "succeeded" : std::strerror(errno));
  char* c = static_cast<char*>(shmat(id, nullptr, 0));
  std::printf("sysv: attached again reads '%.24s'\n", c + 3 * kPage + 10);
  shmctl(id, IPC_RMID, nullptr);
  shmdt(c);
  return 0;
}

// Threads that talk only through two shared mappings of one memfd: the
// producer writes through its mapping, the consumer reads through another.
struct Channel {
  std::atomic<uint32_t> seq;
  uint32_t value;
};

char* g_producer_view;
char* g_consumer_view;
constexpr uint32_t kRounds = 200;

void* producer(void*) {
  auto* ch = reinterpret_cast<Channel*>(g_producer_view);
  for (uint32_t i = 1; i <= kRounds; ++i) {
    while (ch->seq.load(std::memory_order_acquire) != 2 * (i - 1)) sched_yield();
    ch->value = i * i;
    ch->seq.store(2 * i - 1, std::memory_order_release);
  }
  return nullptr;
}

int threads() {
  int fd = memfd_create("threads", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, kPage) != 0) fail("memfd");
  g_producer_view = map(kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  g_consumer_view = map(kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
  pthread_t t;
  if (pthread_create(&t, nullptr, producer, nullptr) != 0) fail("pthread_create");
  auto* ch = reinterpret_cast<Channel*>(g_consumer_view);
  uint64_t sum = 0;
  for (uint32_t i = 1; i <= kRounds; ++i) {
    while (ch->seq.load(std::memory_order_acquire) != 2 * i - 1) sched_yield();
    sum += ch->value;
    ch->seq.store(2 * i, std::memory_order_release);
  }
  pthread_join(t, nullptr);
  std::printf("threads: %u rounds, sum %llu\n", kRounds, static_cast<unsigned long long>(sum));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  std::string arg = argc > 2 ? argv[2] : "";
  int status = 2;
  if (mode == "unlinked" && !arg.empty()) {
    status = unlinked(arg);
  } else if (mode == "file" && !arg.empty()) {
    status = file(arg);
  } else if (mode == "shm" && !arg.empty()) {
    status = shm(arg);
  } else if (mode == "memfd") {
    status = memfd();
  } else if (mode == "private" && !arg.empty()) {
    status = private_maps(arg);
  } else if (mode == "syscalls" && !arg.empty()) {
    status = syscalls(arg);
  } else if (mode == "device") {
    // Not a file: recording stops with an error.
    int fd = open("/dev/zero", O_RDWR | O_CLOEXEC);
    char* z = map(kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    std::printf("device: reads %d\n", z[0]);
    status = 0;
  } else if (mode == "sysv") {
    status = sysv();
  } else if (mode == "threads") {
    status = threads();
  } else {
    std::fprintf(stderr,
                 "usage: shared_files unlinked DIR | file DIR | shm NAME | memfd | private DIR | "
                 "syscalls DIR | device | sysv | threads\n");
  }
  std::fflush(stdout);
  return status;
}
