import Dispatch
import NIOCore
import NIOPosix
import Synchronization

/// Gives one dial of the channel an event loop of its own, so that the dial can be ended from
/// outside whatever it is waiting for. The WebSocket client awaits the TCP connect and the HTTP
/// upgrade as NIO futures, which ignore task cancellation: a listener that accepts TCP and never
/// answers the upgrade held the daemon (no redial, SIGTERM ignored). Shutting the dial's loop down
/// closes its socket, which fails those futures at once.
final class DialDeadline: Sendable {
    private let loops: MultiThreadedEventLoopGroup
    private struct State {
        var ended = false
        var timedOut = false
        /// Ends `run`'s wait for the body with `Ended` (the dial ended and the body did not
        /// finish within `settleSeconds`).
        var giveUp: (@Sendable () -> Void)?
    }
    /// After the dial ended, how long the body has to end on its own (its futures failing as the
    /// socket closes) before `run` stops waiting for it.
    static let settleSeconds = 1.0
    private let state = Mutex(State())

    init() { loops = MultiThreadedEventLoopGroup(numberOfThreads: 1) }

    /// The dial's event loop, to connect on; throws once the dial has ended. A connect started on
    /// a loop already shut down never completes (its futures are never failed), so a body that
    /// reaches its connect after the deadline (a process starved of CPU for the whole handshake
    /// time) must not start it: that hung the dial for good.
    var group: MultiThreadedEventLoopGroup {
        get throws {
            if state.withLock({ $0.ended }) { throw Ended() }
            return loops
        }
    }

    struct Ended: Error, CustomStringConvertible {
        var description: String { "the dial ended before it connected" }
    }

    /// Whether the dial was ended by `timeOut`.
    var timedOut: Bool { state.withLock { $0.timedOut } }

    /// The deadline passed: the dial's socket is closed.
    func timeOut() {
        state.withLock { $0.timedOut = true }
        end()
    }

    /// Closes the dial's socket and frees its loop thread; idempotent, callable from any thread
    /// but the loop's own.
    func end() {
        let first = state.withLock { state -> Bool in
            defer { state.ended = true }
            return !state.ended
        }
        guard first else { return }
        loops.shutdownGracefully(queue: .global()) { _ in }
        giveUpAfterSettling()
    }

    /// Runs `body` (the dial and the conversation on it) with two deadlines: `handshakeSeconds`
    /// for `isWelcomed` to turn true, and `graceSeconds` after cancellation (SIGTERM) for the body
    /// to end on its own. Past either, the socket is closed. Timers run on Dispatch, not as tasks,
    /// since they must fire while the task waits on a future that cannot be cancelled.
    static func run<R: Sendable>(handshakeSeconds: Double, graceSeconds: Double, isWelcomed: @escaping @Sendable () -> Bool,
                                 _ body: @escaping @Sendable (DialDeadline) async throws -> R) async throws -> R {
        let dial = DialDeadline()
        defer { dial.end() }
        let handshake = DispatchWorkItem { if !isWelcomed() { dial.timeOut() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + handshakeSeconds, execute: handshake)
        defer { handshake.cancel() }
        // The body runs as a task of its own, so that waiting for it can end even when it cannot:
        // a connect caught by the loop's shutdown before its socket was registered never
        // completes (its futures are never failed), and it hung the dial for good. Such a body is
        // abandoned, suspended, once the dial has ended and `settleSeconds` passed.
        let work = Task { try await body(dial) }
        do {
            return try await withTaskCancellationHandler {
                try await dial.outcome(of: work)
            } onCancel: {
                work.cancel()
                DispatchQueue.global().asyncAfter(deadline: .now() + graceSeconds) { dial.end() }
            }
        } catch where dial.timedOut {
            throw HandshakeTimeout(seconds: handshakeSeconds)
        }
    }

    /// The body's result, or `Ended` once the dial has ended and the body has not finished within
    /// `settleSeconds`.
    private func outcome<R: Sendable>(of work: Task<R, Error>) async throws -> R {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, Error>) in
            let waiter = Waiter(continuation)
            let ended = state.withLock { state -> Bool in
                state.giveUp = { waiter.resume(.failure(Ended())) }
                return state.ended
            }
            if ended { giveUpAfterSettling() }
            Task { waiter.resume(await work.result) }
        }
    }

    private func giveUpAfterSettling() {
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.settleSeconds) { [self] in
            state.withLock { $0.giveUp }?()
        }
    }

    /// A continuation resumed once, by whichever comes first.
    private final class Waiter<R: Sendable>: Sendable {
        private let continuation: Mutex<CheckedContinuation<R, Error>?>
        init(_ continuation: CheckedContinuation<R, Error>) { self.continuation = Mutex(continuation) }
        func resume(_ result: Result<R, Error>) {
            continuation.withLock { pending in defer { pending = nil }; return pending }?.resume(with: result)
        }
    }

    struct HandshakeTimeout: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "the control plane did not answer the channel's handshake within \(Int(seconds)) s" }
    }
}
