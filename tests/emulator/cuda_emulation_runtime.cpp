// Runtime of the CUDA host emulation (cuda_emulation.h): launches a grid with every thread of a
// block as a real std::thread and __syncthreads as a real barrier.
//
// The end of a block is a barrier too, so a thread that leaves while others wait at
// __syncthreads is reported as barrier divergence instead of hanging, and a barrier that is not
// completed in time is reported as a deadlock. Schedules:
//   0 concurrent:      threads run freely between barriers (the OS interleaves them);
//   1 serial forward:  between two barriers threads run one at a time, thread 0 first;
//   2 serial reverse:  the same, last thread first.
// The serial schedules make a missing barrier deterministic: a thread reads shared memory that
// its neighbours have not written yet, or overwrites it before they have read it. Launch
// configurations beyond CUDA's limits fail as they would on a GPU.
#include "cuda_emulation.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

namespace emu {

// Thrown inside kernel threads to unwind them when the launch has failed.
struct LaunchAborted {};

enum class Site { syncthreads, block_end };

// The barrier of one block. In the serial schedules it also hands a baton from thread to thread.
class BlockBarrier {
  public:
    BlockBarrier(int n_threads, int schedule, double timeout_seconds)
        : n_(n_threads), schedule_(schedule), timeout_(timeout_seconds), turn_cv_(n_threads) {
        turn_ = first();
    }

    // Blocks until it is this thread's turn to run (serial schedules) or returns at once.
    void wait_turn(int tid) {
        std::unique_lock<std::mutex> lock(mu_);
        wait(lock, tid, [&] { return schedule_ == 0 || turn_ == tid; });
    }

    void arrive(int tid, Site site) {
        std::unique_lock<std::mutex> lock(mu_);
        if (failed_) throw LaunchAborted();
        if (arrived_ == 0) {
            site_ = site;
        } else if (site != site_) {
            fail("barrier divergence: thread " + std::to_string(tid) +
                 (site == Site::block_end ? " finished the block" : " waits at __syncthreads") +
                 " while other threads of its block " +
                 (site_ == Site::block_end ? "finished it" : "wait at __syncthreads"));
            throw LaunchAborted();
        }
        const unsigned long long generation = generation_;
        if (++arrived_ == n_) {
            arrived_ = 0;
            ++generation_;
            if (schedule_ == 0) {
                cv_.notify_all();
            } else {
                pass_turn(first());
            }
        } else if (schedule_ != 0) {
            pass_turn(next(tid));
        }
        wait(lock, tid, [&] {
            return generation_ != generation && (schedule_ == 0 || turn_ == tid);
        });
    }

    // Called by a thread after its last block: hands the baton on (serial schedules).
    void leave(int tid) {
        std::lock_guard<std::mutex> lock(mu_);
        if (schedule_ != 0) pass_turn(next(tid));
    }

    // Marks the launch failed and wakes every waiting thread. Call with mu_ held.
    void fail(const std::string& message) {
        if (!failed_) error_ = message;
        failed_ = true;
        cv_.notify_all();
        for (auto& cv : turn_cv_) cv.notify_all();
    }

    void record_failure(const std::string& message) {
        std::lock_guard<std::mutex> lock(mu_);
        fail(message);
    }

    bool failed() {
        std::lock_guard<std::mutex> lock(mu_);
        return failed_;
    }
    std::string error() {
        std::lock_guard<std::mutex> lock(mu_);
        return error_;
    }

  private:
    int first() const { return schedule_ == 2 ? n_ - 1 : 0; }
    int next(int tid) const { return schedule_ == 2 ? tid - 1 : tid + 1; }

    // Serial schedules wake only the thread whose turn it is (one condition variable per
    // thread), so a barrier costs n context switches rather than n^2 wake-ups.
    void pass_turn(int tid) {
        turn_ = tid;
        if (tid >= 0 && tid < n_) turn_cv_[tid].notify_one();
    }

    template <typename Ready>
    void wait(std::unique_lock<std::mutex>& lock, int tid, Ready ready) {
        std::condition_variable& cv = schedule_ == 0 ? cv_ : turn_cv_[tid];
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::duration<double>(timeout_);
        while (!ready()) {
            if (failed_) throw LaunchAborted();
            if (cv.wait_until(lock, deadline) == std::cv_status::timeout && !ready()) {
                fail("deadlock: a barrier was not reached by all threads of the block in time");
                throw LaunchAborted();
            }
        }
        if (failed_) throw LaunchAborted();
    }

    const int n_;
    const int schedule_;
    const double timeout_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::condition_variable> turn_cv_;
    int arrived_ = 0;
    unsigned long long generation_ = 0;
    Site site_ = Site::syncthreads;
    int turn_ = 0;
    bool failed_ = false;
    std::string error_;
};

thread_local BlockBarrier* current_barrier = nullptr;
thread_local int current_tid = 0;

// Serialises launches: __shared__ statics and the block-by-block order assume one launch at a time.
std::mutex launch_mutex;

typedef void (*Thunk)(const char* params);

// Runs thunk(params) as a CUDA grid. Returns 0, or 1 with a message in error (size error_size).
int launch(Thunk thunk, const char* params, dim3 grid, dim3 block, int schedule,
           double timeout_seconds, char* error, int error_size) {
    auto report = [&](const std::string& message) {
        std::snprintf(error, error_size, "%s", message.c_str());
        return 1;
    };
    if (block.x < 1 || block.y < 1 || block.z < 1 || grid.x < 1 || grid.y < 1 || grid.z < 1)
        return report("invalid configuration: zero-sized grid or block");
    if (block.x > 1024 || block.y > 1024 || block.z > 64 ||
        (unsigned long long)block.x * block.y * block.z > 1024)
        return report("invalid configuration: more than 1024 threads per block or a block "
                      "dimension over its limit (1024, 1024, 64)");
    if (grid.x > 2147483647u || grid.y > 65535u || grid.z > 65535u)
        return report(
            "invalid configuration: grid dimension over its limit (2^31-1, 65535, 65535)");
    if (schedule < 0 || schedule > 2) return report("unknown schedule");

    std::lock_guard<std::mutex> serial(launch_mutex);
    const int n_threads = (int)(block.x * block.y * block.z);
    const unsigned long long n_blocks = (unsigned long long)grid.x * grid.y * grid.z;
    BlockBarrier barrier(n_threads, schedule, timeout_seconds);

    auto body = [&](int tid) {
        current_barrier = &barrier;
        current_tid = tid;
        threadIdx = uint3{(unsigned)tid % block.x, (unsigned)(tid / block.x) % block.y,
                          (unsigned)(tid / (block.x * block.y))};
        blockDim = block;
        gridDim = grid;
        try {
            barrier.wait_turn(tid);
            for (unsigned long long b = 0; b < n_blocks; ++b) {
                blockIdx = uint3{(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y),
                                 (unsigned)(b / ((unsigned long long)grid.x * grid.y))};
                thunk(params);
                barrier.arrive(tid, Site::block_end);
            }
            barrier.leave(tid);
        } catch (const LaunchAborted&) {
        } catch (const std::exception& e) {
            barrier.record_failure(std::string("exception in kernel: ") + e.what());
        }
    };

    std::vector<std::thread> threads;
    threads.reserve(n_threads);
    for (int tid = 0; tid < n_threads; ++tid) threads.emplace_back(body, tid);
    for (auto& t : threads) t.join();
    if (barrier.failed()) return report(barrier.error());
    return 0;
}

}  // namespace emu

void __syncthreads() { emu::current_barrier->arrive(emu::current_tid, emu::Site::syncthreads); }

extern "C" int emu_launch(void* thunk, const char* params, unsigned gx, unsigned gy, unsigned gz,
                          unsigned bx, unsigned by, unsigned bz, int schedule, double timeout,
                          char* error, int error_size) {
    return emu::launch((emu::Thunk)thunk, params, dim3{gx, gy, gz}, dim3{bx, by, bz}, schedule,
                       timeout, error, error_size);
}
