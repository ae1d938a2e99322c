// libcurl as one Swift module. curl_easy_setopt and curl_easy_getinfo are variadic, which Swift
// cannot call, so they get one typed wrapper per argument kind.
#ifndef DEFPI_CCURL_SHIM_H
#define DEFPI_CCURL_SHIM_H

#include <curl/curl.h>

typedef size_t (*defpi_curl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*defpi_curl_progress_callback)(void *context, curl_off_t downloadTotal, curl_off_t downloaded,
                                            curl_off_t uploadTotal, curl_off_t uploaded);

static inline CURLcode defpi_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode defpi_curl_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode defpi_curl_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode defpi_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode defpi_curl_setopt_callback(CURL *handle, CURLoption option, defpi_curl_data_callback value) {
    return curl_easy_setopt(handle, option, value);
}
static inline CURLcode defpi_curl_setopt_progress(CURL *handle, defpi_curl_progress_callback value) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, value);
}
static inline CURLcode defpi_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode defpi_curl_getinfo_string(CURL *handle, CURLINFO info, char **value) {
    return curl_easy_getinfo(handle, info, value);
}
static inline CURLcode defpi_curl_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

#endif
