import CCurl
import CMongoc
import Testing

/// Each C binding links and answers.
@Suite("C bindings", .timeLimit(.minutes(3)))
struct BindingTests {
    @Test("libcurl reports its version and takes options through the typed shim")
    func curl() throws {
        let version = String(cString: curl_version())
        #expect(version.hasPrefix("libcurl/"))
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(defpi_curl_setopt_string(handle, CURLOPT_URL, "http://127.0.0.1:1/") == CURLE_OK)
        #expect(defpi_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 500) == CURLE_OK)
        #expect(curl_easy_perform(handle) == CURLE_COULDNT_CONNECT)
    }

    @Test("libmongoc reports its version and parses a URI")
    func mongoc() throws {
        mongoc_init()
        #expect(String(cString: mongoc_get_version()).split(separator: ".").count == 3)
        var error = bson_error_t()
        let uri = try #require(mongoc_uri_new_with_error("mongodb://127.0.0.1:27017/def-pi", &error))
        defer { mongoc_uri_destroy(uri) }
        #expect(String(cString: mongoc_uri_get_database(uri)) == "def-pi")
    }
}
