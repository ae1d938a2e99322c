import Engine
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Turns every failure into a JSON answer, `{"error": CODE, "message": TEXT}`, with the status
/// its kind calls for: the Engine's typed errors, bodies that cannot be decoded, unknown routes.
/// A fault of defpi is a 500 whose message tells nothing of the inside; the detail is logged.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = APIContext

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response
        } catch let error as UserFacingError {
            return APIError(error).response
        } catch let error as DecodingError {
            return APIError(.invalidRequest, message: Request.describe(error)).response
        } catch let error as HTTPError {
            return APIError(status: error.status, message: error.body ?? error.status.reasonPhrase).response
        } catch {
            context.logger.error("\(request.method) \(request.uri.path) failed: \(error)")
            return APIError(.failed, message: "defpi failed to answer; the server's log says why").response
        }
    }
}

/// One error answer of the API.
struct APIError: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String
    var headers: HTTPFields = [:]

    init(_ error: UserFacingError) {
        self.init(error.failureKind, message: error.userMessage)
    }

    init(_ kind: FailureKind, message: String) {
        self.message = message
        switch kind {
        case .invalidRequest: (status, code) = (.badRequest, "invalid_request")
        case .notFound: (status, code) = (.notFound, "not_found")
        case .forbidden: (status, code) = (.forbidden, "forbidden")
        case .conflict: (status, code) = (.conflict, "conflict")
        case .unauthenticated:
            (status, code) = (.unauthorized, "unauthorized")
            headers[.wwwAuthenticate] = #"Basic realm="defpi", charset="UTF-8""#
        case .throttled(let retryAfter):
            (status, code) = (.tooManyRequests, "too_many_requests")
            headers[.retryAfter] = "\(max(1, Int(retryAfter.seconds.rounded(.up))))"
        case .unavailable: (status, code) = (.serviceUnavailable, "unavailable")
        case .failed: (status, code) = (.internalServerError, "internal")
        }
    }

    init(status: HTTPResponse.Status, message: String) {
        self.status = status
        self.message = message
        code = status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_")
    }

    var response: Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(["error": code, "message": message])) ?? Data()
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
