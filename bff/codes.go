package bff

import "github.com/gofiber/fiber/v2"

// codeRoutes registers payment codes and the event stream.
func (s *Server) codeRoutes(v1 fiber.Router) {}
