// The one place that includes Asio/Beast, in the order Boost 1.74 needs under C++20.
#pragma once

#include <utility>  // before Asio: boost/asio/awaitable.hpp needs std::exchange (Boost 1.74 + g++ 12)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace berth::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

template <class T = void>
using awaitable = asio::awaitable<T>;

// Completion token that stores the error in `ec` instead of throwing (Boost 1.74 has no as_tuple).
inline auto with_ec(boost::system::error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

}  // namespace berth::http
