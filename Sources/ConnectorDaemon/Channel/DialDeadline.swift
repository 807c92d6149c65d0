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
    let group: MultiThreadedEventLoopGroup
    private struct State {
        var ended = false
        var timedOut = false
    }
    private let state = Mutex(State())

    init() { group = MultiThreadedEventLoopGroup(numberOfThreads: 1) }

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
        group.shutdownGracefully(queue: .global()) { _ in }
    }

    /// Runs `body` (the dial and the conversation on it) with two deadlines: `handshakeSeconds`
    /// for `isWelcomed` to turn true, and `graceSeconds` after cancellation (SIGTERM) for the body
    /// to end on its own. Past either, the socket is closed. Timers run on Dispatch, not as tasks,
    /// since they must fire while the task waits on a future that cannot be cancelled.
    static func run<R: Sendable>(handshakeSeconds: Double, graceSeconds: Double, isWelcomed: @escaping @Sendable () -> Bool,
                                 _ body: (DialDeadline) async throws -> R) async throws -> R {
        let dial = DialDeadline()
        defer { dial.end() }
        let handshake = DispatchWorkItem { if !isWelcomed() { dial.timeOut() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + handshakeSeconds, execute: handshake)
        defer { handshake.cancel() }
        do {
            return try await withTaskCancellationHandler {
                try await body(dial)
            } onCancel: {
                DispatchQueue.global().asyncAfter(deadline: .now() + graceSeconds) { dial.end() }
            }
        } catch where dial.timedOut {
            throw HandshakeTimeout(seconds: handshakeSeconds)
        }
    }

    struct HandshakeTimeout: Error, CustomStringConvertible {
        let seconds: Double
        var description: String { "the control plane did not answer the channel's handshake within \(Int(seconds)) s" }
    }
}
