#pragma once
// The SQLite implementation of account_store (tables of module "core").
#include <memory>

#include "storage/storage.hpp"

namespace starling::storage {

class sqlite_database;

std::unique_ptr<account_store> make_sqlite_account_store(sqlite_database& db);

}  // namespace starling::storage
