"""Plain data of dws: records, ids, roles, trees and their validation. No I/O here."""
