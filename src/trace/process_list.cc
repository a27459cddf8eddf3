#include "trace/process_list.h"

#include <sys/wait.h>

namespace backstep::trace {

ProcessList::ProcessList(const Trace& trace, size_t upto) {
  const auto& ev = trace.events();
  for (size_t i = 0; i < ev.size() && i < upto; ++i) {
    if (const auto* x = std::get_if<Exec>(&ev[i])) {
      if (processes_.empty()) {
        processes_.push_back({x->tid, 0, 0, trace.header().exe, i, {}, std::nullopt, false, 0});
        process_of_[x->tid] = x->tid;
      } else if (ProcessSummary* p = find_mutable(process_of(x->tid))) {
        p->exe = x->exe;
        p->execs.push_back(i);
      }
    } else if (const auto* s = std::get_if<Stop>(&ev[i])) {
      switch (s->kind) {
        case StopKind::kClone:
        case StopKind::kFork:
        case StopKind::kVfork:
        case StopKind::kExec:
          // A new thread joins its creator's process (a ProcessStart
          // record right after says when it is a new process instead).
          process_of_[static_cast<int32_t>(s->value)] = process_of(s->tid);
          break;
        case StopKind::kExit:
          if (s->result == 1) {
            if (ProcessSummary* p = find_mutable(process_of(s->tid)); p && !p->ended) {
              p->ended = i;
              int status = static_cast<int>(s->value);
              p->exited = !WIFSIGNALED(status);
              p->code = p->exited ? WEXITSTATUS(status) : WTERMSIG(status);
            }
          }
          break;
        default:
          break;
      }
    } else if (const auto* n = std::get_if<ProcessStart>(&ev[i])) {
      std::string exe;
      if (const ProcessSummary* parent = find_mutable(n->parent)) exe = parent->exe;
      processes_.push_back({n->pid, n->parent, n->flags, exe, i, {}, std::nullopt, false, 0});
      process_of_[n->pid] = n->pid;
    } else if (const auto* e = std::get_if<End>(&ev[i]); e && !e->interrupted) {
      for (ProcessSummary& p : processes_) {
        if (!p.ended) p.ended = i;
      }
      if (!processes_.empty() && processes_[0].ended == i) {
        processes_[0].exited = e->exited;
        processes_[0].code = e->code;
      }
    }
  }
}

int32_t ProcessList::process_of(int32_t tid) const {
  auto it = process_of_.find(tid);
  return it == process_of_.end() ? 0 : it->second;
}

const ProcessSummary* ProcessList::find(int32_t pid) const {
  for (const ProcessSummary& p : processes_) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

std::optional<ProcessStop> ProcessList::first_stop(const Trace& trace, int32_t pid,
                                                   size_t from) const {
  const auto& ev = trace.events();
  for (size_t i = from; i < ev.size(); ++i) {
    if (const auto* s = std::get_if<Stop>(&ev[i]); s && process_of(s->tid) == pid) {
      return ProcessStop{i, s->tid};
    }
  }
  return std::nullopt;
}

ProcessSummary* ProcessList::find_mutable(int32_t pid) {
  for (ProcessSummary& p : processes_) {
    if (p.pid == pid) return &p;
  }
  return nullptr;
}

}  // namespace backstep::trace
