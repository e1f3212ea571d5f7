-- Attempts a job gets when it sets no maxAttempts (the "m" header field; DEFAULT_MAX_ATTEMPTS in src/core/codec.ts is the same).
local DEFAULT_MAX_ATTEMPTS = 3
