package httpdrain

// MovedCount reports how many connections the Mover took during s's drain.
func MovedCount(s *Server) int64 { return s.moved.Load() }
