#pragma once
// What other modules may ask of the vcard-temp module: XEP-0398 avatar conversion between the
// vCard PHOTO (XEP-0153) and User Avatar (XEP-0084) in PEP. Implemented in vcard/.
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>

#include "jid/jid.hpp"

namespace starling {
class server;
}

namespace starling::modules::vcard {

/// Replaces the PHOTO of the account's vCard with TYPE `type` and BINVAL `binval` (base64),
/// creating the vCard if there is none; an empty `binval` removes the PHOTO. The XEP-0153 hash
/// announced in presence follows. Photo listeners are not called (the change came from them).
/// False on a storage failure or bad base64.
boost::asio::awaitable<bool> set_photo(server& srv, jid bare, std::string type, std::string binval);

/// Called after the account itself stored a vCard (XEP-0054 set): the photo's TYPE, BINVAL
/// (base64 without whitespace) and XEP-0153 hash, all empty when the vCard has no photo.
/// Runs on the requesting session's thread, after the IQ result was sent.
using photo_listener =
    std::function<void(server&, const jid& bare, const std::string& type, const std::string& binval, const std::string& hash)>;
void add_photo_listener(server& srv, photo_listener fn);

}  // namespace starling::modules::vcard
