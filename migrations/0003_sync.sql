-- 0003: what change capture needs. A deleted listing must still name its event in the
-- replication stream (its projection is the event's), so the listing's replica identity is
-- (id, event_id) rather than the primary key alone. Every other projected table's key
-- already names the entity a change belongs to.
CREATE UNIQUE INDEX listings_id_event ON listings (id, event_id);
ALTER TABLE listings REPLICA IDENTITY USING INDEX listings_id_event;
